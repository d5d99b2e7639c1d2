"""A pretrained chat model's prompt format: its own Jinja chat template,
rendered as Hugging Face renders it, and the same format in the graph.

Instruction-tuned models were trained on conversations framed by special
tokens; SmolLM2 (like Qwen and many others) uses ChatML:

    <|im_start|>system
    You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
    <|im_start|>user
    What is the capital of France?<|im_end|>
    <|im_start|>assistant

and the model answers, ending its turn with `<|im_end|>`. The checkpoint
ships the template that writes this (`tokenizer.chat_template` in GGUF,
`chat_template` in Hugging Face's tokenizer config). `render` applies it
with Jinja2, as transformers' `apply_chat_template` does. A SavedModel
cannot run Jinja, so `ChatFormat` writes the same text with TensorFlow
string ops; `ChatFormat.from_template` checks, on probe conversations,
that it writes exactly what the template writes, and refuses a template
of another format.
"""

import jinja2
import jinja2.sandbox
import tensorflow as tf

ROLES = ("system", "user", "assistant")
# The ChatML frame of one turn: START + role + "\n" + content + END + "\n".
START, END = "<|im_start|>", "<|im_end|>"


def render(template, messages, add_generation_prompt=True,
           special_tokens=None):
    """The prompt text of a conversation, by the checkpoint's template.

    Args:
        template: str, a Jinja chat template.
        messages: list of `{"role": ..., "content": ...}` dicts.
        add_generation_prompt: bool, end with the opening of an assistant
            turn (what the model then continues).
        special_tokens: dict with the `bos` and `eos` token strings, as
            templates may write them (`bos_token`, `eos_token`).

    Raises:
        ValueError: a template that does not parse, or raises (its own
            `raise_exception`) for this conversation.
    """
    def raise_exception(message):
        raise ValueError(f"the chat template refuses: "
                         f"{' '.join(str(message).split())}")

    environment = jinja2.sandbox.ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    special_tokens = special_tokens or {}
    try:
        compiled = environment.from_string(template)
        return compiled.render(
            messages=list(messages),
            add_generation_prompt=add_generation_prompt,
            bos_token=special_tokens.get("bos", ""),
            eos_token=special_tokens.get("eos", ""))
    except jinja2.TemplateError as error:
        raise ValueError(f"the chat template does not render: "
                         f"{' '.join(str(error).split())}") from None


def check_messages(messages):
    """`ValueError` naming the problem unless `messages` is a list of
    `{"role": one of ROLES, "content": str}`."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValueError("a conversation is a non-empty list of messages")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or (
                "content" not in message):
            raise ValueError(f"message {i + 1} needs a role and a content")
        if message["role"] not in ROLES:
            raise ValueError(f"message {i + 1}: unknown role "
                             f"{message['role']!r}; choose one of: "
                             f"{', '.join(ROLES)}")
        if not isinstance(message["content"], str):
            raise ValueError(f"message {i + 1}: the content is not text")


class ChatFormat:
    """ChatML in the graph: a conversation's prompt text from its roles
    and contents, as the checkpoint's template writes it.

    Args:
        default_system: str or None, the system turn the template writes
            when a conversation has none (SmolLM2's names the assistant);
            None writes no system turn then.

    Example:
    >>> chat = ChatFormat.from_template(template)
    >>> chat.prompt(tf.constant([["user"]]), tf.constant([["Hi!"]]),
    ...             tf.constant([""]))
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'<|im_start|>...'])>
    """

    def __init__(self, default_system=None):
        self.default_system = default_system

    @classmethod
    def from_template(cls, template, special_tokens=None):
        """The `ChatFormat` that writes what `template` writes.

        Raises:
            ValueError: the template is not ChatML (it writes something
                else for one of the probe conversations).
        """
        if not template:
            raise ValueError("the checkpoint has no chat template")
        user = [{"role": "user", "content": "Hi!"}]
        default = render(template, user, False, special_tokens)
        chat = cls(None)
        head = START + "system\n"
        if default.startswith(head) and END in default:
            chat = cls(default[len(head):default.index(END)])
        probes = [
            user,
            [{"role": "system", "content": "Be brief."}, *user],
            [*user, {"role": "assistant", "content": "Hello."},
             {"role": "user", "content": "Who are you?\nSay it."}],
        ]
        for messages in probes:
            expected = render(template, messages, True, special_tokens)
            roles = [m["role"] for m in messages if m["role"] != "system"]
            contents = [m["content"] for m in messages
                        if m["role"] != "system"]
            system = next((m["content"] for m in messages
                           if m["role"] == "system"), "")
            written = chat.prompt(tf.constant([roles]),
                                  tf.constant([contents]),
                                  tf.constant([system]))[0].numpy()
            if written.decode("utf-8") != expected:
                raise ValueError(
                    "the chat template is not ChatML (<|im_start|>role ... "
                    "<|im_end|>), the format tfzoo writes in the graph; "
                    "its chat works in Python (tfzoo chat), not in an "
                    "export")
        return chat

    def prompt(self, roles, contents, system):
        """The prompt texts of a batch of conversations.

        Args:
            roles: string tensor `(batch, turns)`: "user" or "assistant",
                "" for no turn (shorter conversations are padded so).
            contents: string tensor `(batch, turns)`.
            system: string tensor `(batch,)`: the system prompt, "" for the
                template's default.

        Returns:
            string tensor `(batch,)`, each ending with the opening of the
            assistant's turn.
        """
        turns = tf.strings.join([START, roles, "\n", contents, END, "\n"])
        turns = tf.where(tf.strings.length(roles) > 0, turns, "")
        default = "" if self.default_system is None else (
            f"{START}system\n{self.default_system}{END}\n")
        framed = tf.strings.join([START, "system\n", system, END, "\n"])
        head = tf.where(tf.strings.length(system) > 0, framed, default)
        return tf.strings.join([head,
                                tf.strings.reduce_join(turns, axis=-1),
                                START, "assistant\n"])


def training_pieces(template, messages, special_tokens=None):
    """A conversation as the template writes it, cut into `(text,
    is_assistant)` pieces: each assistant turn's content and end of turn
    (what fine-tuning teaches) apart from everything else (the system and
    user turns, and the frame that opens each turn).

    Raises:
        ValueError: a template that does not write a conversation turn by
            turn (each prefix of it the start of the whole).
    """
    pieces, done = [], ""
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(template, messages[:i], True, special_tokens)
        through = render(template, messages[:i + 1], False, special_tokens)
        if not (before.startswith(done) and through.startswith(before)):
            raise ValueError("the chat template does not write a "
                             "conversation turn by turn; train on plain "
                             "text instead")
        pieces += [(before[len(done):], False), (through[len(before):], True)]
        done = through
    whole = render(template, messages, False, special_tokens)
    if not whole.startswith(done):
        raise ValueError("the chat template does not write a conversation "
                         "turn by turn; train on plain text instead")
    pieces.append((whole[len(done):], False))
    return [(text, assistant) for text, assistant in pieces if text]
