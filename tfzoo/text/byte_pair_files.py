"""Reading a pretrained byte-level BPE tokenizer from its model's files:
llama.cpp's GGUF metadata (`tokenizer.ggml.*`) and Hugging Face's
`tokenizer.json`. Each reader returns `BytePairTokenizer`'s constructor
arguments, or refuses in one line what the tokenizer cannot reproduce
(`BytePairTokenizer.from_gguf` and `.from_tokenizer_json` call them).
"""

import json

from tfzoo.text.byte_level import bytes_to_unicode

# The names llama.cpp writes to `tokenizer.ggml.pre` for them.
GGUF_PRE_TOKENIZERS = {"gpt-2": "gpt2", "gpt2": "gpt2", "smollm": "smollm",
                       "llama-bpe": "llama-bpe", "llama3": "llama-bpe",
                       "llama-v3": "llama-bpe"}

# GPT-2's and Llama 3's regexes as Hugging Face writes them (Oniguruma
# syntax, with the look-ahead), to recognize them in a tokenizer.json.
GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+"
                r"| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+"
                  r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                  r"|\s+(?!\S)|\s+")

# GGUF token types (llama.cpp) of tokens matched whole in the text.
_GGUF_CONTROL, _GGUF_USER_DEFINED = 3, 4


def read_gguf_tokenizer(gguf_file):
    """`BytePairTokenizer`'s arguments from a GGUF model file (llama.cpp's
    `gpt2` type): special tokens are the control and user-defined tokens;
    Llama 3's pre-tokenizer ignores merges, as llama.cpp does.

    Args:
        gguf_file: a `gguf.GGUFReader`, or the path of a `.gguf` file.

    Returns:
        dict: `vocabulary`, `merges`, `pre_tokenizer`, `special_tokens`,
        `ignore_merges`.

    Raises:
        ValueError: a tokenizer other than byte-level BPE (such as
            SentencePiece's `llama`), or a pre-tokenizer other than those of
            `GGUF_PRE_TOKENIZERS`.
    """
    if not hasattr(gguf_file, "fields"):
        import gguf

        gguf_file = gguf.GGUFReader(gguf_file)

    def field(name, default=None):
        value = gguf_file.fields.get("tokenizer.ggml." + name)
        return default if value is None else value.contents()

    model = field("model")
    if model != "gpt2":
        raise ValueError(f"GGUF tokenizer {model!r} is not supported: "
                         "only 'gpt2' (byte-level BPE) is")
    pre = field("pre")
    if pre not in GGUF_PRE_TOKENIZERS:
        raise ValueError(f"GGUF pre-tokenizer {pre!r} is not supported; "
                         f"supported: {', '.join(GGUF_PRE_TOKENIZERS)}")
    tokens = field("tokens")
    types = field("token_type", [])
    specials = [token for token, kind in zip(tokens, types)
                if kind in (_GGUF_CONTROL, _GGUF_USER_DEFINED)]
    pre_tokenizer = GGUF_PRE_TOKENIZERS[pre]
    return {"vocabulary": tokens, "merges": field("merges", []),
            "pre_tokenizer": pre_tokenizer, "special_tokens": specials,
            "ignore_merges": pre_tokenizer == "llama-bpe"}


def read_tokenizer_json(path):
    """`BytePairTokenizer`'s arguments from a Hugging Face `tokenizer.json`
    (byte-level BPE); all added tokens count as special tokens.

    Args:
        path: str, the file (or a dict of its content).

    Returns:
        dict: `vocabulary`, `merges`, `pre_tokenizer`, `special_tokens`,
        `ignore_merges`.

    Raises:
        ValueError: a model other than byte-level BPE (or with options it
            does not have: byte fallback, an unknown token for bytes without
            a token, ...), a normalizer, a pre-tokenizer other than GPT-2's,
            SmolLM's or Llama 3's, added tokens that strip space.
    """
    if isinstance(path, dict):
        config = path
    else:
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
    model = config.get("model") or {}
    supported = ("supported: byte-level BPE with the gpt2, smollm or "
                 "llama-bpe pre-tokenizer")
    if model.get("type") != "BPE" or (
            config.get("decoder") or {}).get("type") != "ByteLevel":
        raise ValueError(f"tokenizer.json of model type "
                         f"{model.get('type')!r} is not supported; "
                         f"{supported}")
    options = [name for name in ("byte_fallback", "dropout",
                                 "continuing_subword_prefix",
                                 "end_of_word_suffix") if model.get(name)]
    options += ["normalizer"] if config.get("normalizer") else []
    byte_tokens = set(bytes_to_unicode().values())
    if model.get("unk_token") and not byte_tokens <= set(model["vocab"]):
        options.append("unk_token")
    if options:
        raise ValueError(f"tokenizer.json with {', '.join(options)} is "
                         f"not supported; {supported}")
    pre_tokenizer = _hugging_face_pre_tokenizer(
        config.get("pre_tokenizer"))
    if pre_tokenizer is None:
        raise ValueError(
            f"pre-tokenizer {json.dumps(config.get('pre_tokenizer'))} "
            f"is not supported; {supported}")
    added = config.get("added_tokens") or []
    if any(t.get(option) for t in added
           for option in ("lstrip", "rstrip", "single_word")):
        raise ValueError("added tokens that strip space or match single "
                         f"words are not supported; {supported}")
    by_id = {i: token for token, i in model["vocab"].items()}
    by_id.update({t["id"]: t["content"] for t in added})
    if sorted(by_id) != list(range(len(by_id))):
        raise ValueError("the token ids are not 0 to vocabulary size - 1")
    merges = [merge if isinstance(merge, str) else " ".join(merge)
              for merge in model.get("merges", [])]
    return {"vocabulary": [by_id[i] for i in range(len(by_id))],
            "merges": merges, "pre_tokenizer": pre_tokenizer,
            "special_tokens": [t["content"] for t in added],
            "ignore_merges": model.get("ignore_merges", False)}


def _hugging_face_pre_tokenizer(pre_tokenizer):
    """The name (`PRE_TOKENIZERS`) of a tokenizer.json's pre-tokenizer, or
    None where it is none of them."""
    def byte_level(step, use_regex):
        return (step.get("type") == "ByteLevel"
                and not step.get("add_prefix_space", False)
                and step.get("use_regex", True) == use_regex)

    def split(step, pattern):
        return step == {"type": "Split", "pattern": {"Regex": pattern},
                        "behavior": "Isolated", "invert": False}

    pre_tokenizer = pre_tokenizer or {}
    steps = (pre_tokenizer.get("pretokenizers", [])
             if pre_tokenizer.get("type") == "Sequence" else [pre_tokenizer])
    if len(steps) == 1:
        return "gpt2" if byte_level(steps[0], True) else None
    if len(steps) != 2:
        return None
    first, second = steps
    if split(first, GPT2_PATTERN) and byte_level(second, False):
        return "gpt2"
    if first == {"type": "Digits", "individual_digits": True} and (
            byte_level(second, True)):
        return "smollm"
    if split(first, LLAMA3_PATTERN) and byte_level(second, False):
        return "llama-bpe"
    return None
