"""Read a llama.cpp GGUF file of the llama architecture as a `Checkpoint`.

A GGUF file holds the model's settings as key/value fields
(`llama.block_count`, `llama.rope.freq_base`, ...), its tokenizer and chat
template (`tokenizer.ggml.*`, `tokenizer.chat_template`; read by
`tfzoo.text.byte_pair_tokenizer`), and its tensors, often quantized
(Q4_1, Q8_0, ...). llama.cpp's own `gguf` package reads them and
dequantizes every tensor type it knows to float32.

Two things differ from Hugging Face's layout, and are undone here:

- tensor names: `blk.0.attn_q.weight` is `model.layers.0.self_attn.q_proj
  .weight` (`_HF_NAMES`);
- the rows of the query and key projections: llama.cpp's converter
  permutes them so that each head's rotary pairs are adjacent
  (`(x0, x1), (x2, x3), ...`) where Hugging Face pairs the two halves of
  the head (`(x0, x32), (x1, x33), ...`); `unpermute` puts them back
  (llama.cpp: `convert_hf_to_gguf.py`, `LlamaModel.permute`).
"""

import os

import numpy as np

from tfzoo.models.checkpoint import Checkpoint, unsupported_architecture

# GGUF tensor names (per block, and global) -> Hugging Face's.
_HF_NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}
_GLOBAL_NAMES = {"token_embd.weight": "model.embed_tokens.weight",
                 "output_norm.weight": "model.norm.weight",
                 "output.weight": "lm_head.weight"}


def unpermute(weight, num_heads):
    """Undoes llama.cpp's permutation of a query or key projection.

    Args:
        weight: float array `(num_heads * head_dim, width)`, rows as
            llama.cpp stores them.
        num_heads: int, the heads of that projection (the key/value heads
            for the key).

    Returns:
        The array with its rows in Hugging Face's order.
    """
    head_dim = weight.shape[0] // num_heads
    return (weight.reshape(num_heads, head_dim // 2, 2, *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def open_gguf(path):
    """A `gguf.GGUFReader` of `path`.

    Raises:
        ValueError: not a readable GGUF file (missing, cut short, or
            another format), said in one line.
    """
    import gguf

    if not os.path.isfile(path):
        raise ValueError(f"{path}: no such file")
    try:
        return gguf.GGUFReader(path)
    except Exception as error:  # gguf raises ValueError, OSError, ...
        message = " ".join(str(error).split()) or type(error).__name__
        raise ValueError(f"{path} is not a readable GGUF file ({message})"
                         ) from None


def field(reader, name, default=None):
    """The value of the GGUF field `name` (a number, str or list)."""
    found = reader.fields.get(name)
    if found is None:
        return default
    return found.contents()


def read_gguf(path, reader=None):
    """The `Checkpoint` in a GGUF file of the llama architecture, every
    tensor dequantized to float32.

    Args:
        path: str, the `.gguf` file.
        reader: a `gguf.GGUFReader` of it, if one is open already.

    Returns:
        A `Checkpoint` (its tokenizer is read from the same file by
        `tfzoo.text.byte_pair_tokenizer.BytePairTokenizer.from_gguf`).

    Raises:
        ValueError: not a GGUF file; another architecture; a tensor type
            `gguf` cannot dequantize; rotary scaling (`rope_freqs`).
    """
    import gguf

    reader = reader or open_gguf(path)
    architecture = field(reader, "general.architecture")
    if architecture != "llama":
        raise unsupported_architecture(architecture, path)
    heads = int(field(reader, "llama.attention.head_count"))
    key_value_heads = int(field(reader, "llama.attention.head_count_kv",
                                heads))
    weights = {}
    for tensor in reader.tensors:
        try:
            array = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
        except (NotImplementedError, KeyError, ValueError) as error:
            raise ValueError(
                f"{path}: tensor {tensor.name} is of type "
                f"{tensor.tensor_type.name}, which gguf cannot dequantize "
                f"({error})") from None
        array = np.asarray(array, np.float32).reshape(
            tuple(int(n) for n in reversed(tensor.shape)))
        name = _hf_name(tensor.name)
        if name.endswith("self_attn.q_proj.weight"):
            array = unpermute(array, heads)
        elif name.endswith("self_attn.k_proj.weight"):
            array = unpermute(array, key_value_heads)
        weights[name] = array
    if "rope_freqs.weight" in weights:  # Llama 3.1's rotary scaling
        raise ValueError(f"{path}: rotary scaling (rope_freqs) is not "
                         "supported; tfzoo reads plain rotary positions")
    width = int(field(reader, "llama.embedding_length"))
    vocabulary = weights["model.embed_tokens.weight"].shape[0]
    arguments = dict(
        vocabulary_size=vocabulary,
        max_sequence_length=int(field(reader, "llama.context_length", 2048)),
        num_layers=int(field(reader, "llama.block_count")),
        num_heads=heads,
        num_key_value_heads=key_value_heads,
        hidden_dim=width,
        intermediate_dim=int(field(reader, "llama.feed_forward_length")),
        dropout=0.0,
        tie_embeddings="lm_head.weight" not in weights,
        positional_embedding="rotary",
        rotary_max_wavelength=float(field(reader, "llama.rope.freq_base",
                                          10000.0)),
        use_bias=False,
        layer_norm_epsilon=float(field(
            reader, "llama.attention.layer_norm_rms_epsilon", 1e-5)),
        normalization="rms_norm",
        feed_forward="swiglu",
    )
    tokens = field(reader, "tokenizer.ggml.tokens") or []
    special = {}
    for role in ("bos", "eos"):
        index = field(reader, f"tokenizer.ggml.{role}_token_id")
        if index is not None and index < len(tokens):
            special[role] = tokens[int(index)]
    return Checkpoint("llama", arguments, weights, path,
                      field(reader, "tokenizer.chat_template"), special)


def _hf_name(name):
    """Hugging Face's name of a GGUF tensor (`blk.3.attn_q.weight` ->
    `model.layers.3.self_attn.q_proj.weight`)."""
    if name in _GLOBAL_NAMES:
        return _GLOBAL_NAMES[name]
    parts = name.split(".")
    if len(parts) == 4 and parts[0] == "blk" and parts[2] in _HF_NAMES:
        return f"model.layers.{parts[1]}.{_HF_NAMES[parts[2]]}.{parts[3]}"
    return name
