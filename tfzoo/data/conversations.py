"""Chat fine-tuning data: JSONL files of conversations, one a line, in the
form most fine-tuning sets use:

    {"messages": [{"role": "user", "content": "Hi!"},
                  {"role": "assistant", "content": "Hello."}]}

Roles are `system`, `user` and `assistant`. A line that is no such
conversation (invalid JSON, no `messages`, an unknown role) is refused
with its file and line, or, with `skip_bad_rows`, skipped and counted.
"""

import json
import os
import sys

from tfzoo.data.sources import resolve_path

SUFFIX = ".jsonl"
ROLES = ("system", "user", "assistant")


def is_conversations(source):
    """Whether `source` names a JSONL file of conversations."""
    return isinstance(source, str) and source.endswith(SUFFIX)


def _conversation(line):
    """The messages of one line; `ValueError` saying what is wrong."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON ({error.msg})") from None
    if not isinstance(value, dict) or "messages" not in value:
        raise ValueError('no "messages"')
    messages = value["messages"]
    if not isinstance(messages, list) or not messages:
        raise ValueError('"messages" is not a list of messages')
    for i, message in enumerate(messages, 1):
        if not isinstance(message, dict) or not isinstance(
                message.get("content"), str):
            raise ValueError(f"message {i} needs a role and a text content")
        if message.get("role") not in ROLES:
            raise ValueError(f"message {i}: unknown role "
                             f"{message.get('role')!r}; choose one of: "
                             f"{', '.join(ROLES)}")
    if not any(message["role"] == "assistant" for message in messages):
        raise ValueError("no assistant message to learn from")
    return [{"role": m["role"], "content": m["content"]} for m in messages]


def read_conversations(source, directory=None, skip_bad_rows=False):
    """The conversations of a JSONL file: a list of message lists.

    Raises:
        ValueError: no such file; a bad line (without `skip_bad_rows`),
            named by file and line; no conversation at all.
    """
    path = resolve_path(source, directory)
    if path is None or not os.path.isfile(path):
        raise ValueError(f"no such file: {source}")
    conversations, skipped = [], 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                conversations.append(_conversation(line))
            except ValueError as error:
                if not skip_bad_rows:
                    raise ValueError(f"{path}, line {number}: {error}; fix "
                                     "it, or pass --skip-bad-rows") from None
                skipped += 1
    if skipped:
        print(f"{path}: skipped {skipped:,} of "
              f"{skipped + len(conversations):,} lines that are no "
              "conversation", file=sys.stderr)
    if not conversations:
        raise ValueError(f"{path} holds no conversation")
    return conversations


def split_conversations(conversations, validation_fraction=0.1):
    """`(train, validation)`: the last `validation_fraction` of the
    conversations (at least one) validate."""
    count = max(1, round(len(conversations) * validation_fraction))
    if count >= len(conversations):
        raise ValueError(f"{len(conversations)} conversation(s) are too few "
                         "to split for validation; give --val")
    return conversations[:-count], conversations[-count:]
