"""Tiny random pretrained checkpoints, written by the tests in the formats
`tfzoo.runs.pretrained` imports: llama.cpp's GGUF (with `gguf.GGUFWriter`,
the query and key rows permuted as llama.cpp's converter permutes them)
and Hugging Face folders (`config.json`, safetensors, `tokenizer.json`).

Every checkpoint shares one byte-level BPE tokenizer: SmolLM2's three
special tokens first (`<|endoftext|>` 0, `<|im_start|>` 1, `<|im_end|>`
2), the 256 byte tokens, and the results of a few merges: 291 tokens.
Weights are dicts under Hugging Face's names (see `llama_reference` and
`gpt2_reference`), float32, far from any initialization.
"""

import json
import os

import numpy as np

from tfzoo.text.byte_level import bytes_to_unicode

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = [
    "Ġ t", "h e", "Ġt he", "i n", "Ġ a", "a n", "Ġa n", "Ġan d", "o u",
    "Ġ y", "Ġy ou", "e r", "r e", "Ġ Ġ", "ĠĠ ĠĠ", "Ċ Ċ", "Ġ o", "Ġo f",
    "Ġ w", "Ġw h", "i s", "Ġ is", "Ġ c", "Ġc a", "Ġ P", "Ġ F", "a r",
    "Ġ ?", "o n", "e s", "Ġt h", "Ġth e",
]
# SmolLM2-135M-Instruct's chat template, as its GGUF file holds it.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] "
    "!= 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant "
    "named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")
BOS, EOS = 1, 2


def vocabulary():
    tokens = SPECIAL_TOKENS + [bytes_to_unicode()[b] for b in range(256)]
    for merge in MERGES:
        token = merge.replace(" ", "")
        if token not in tokens:
            tokens.append(token)
    return tokens


VOCABULARY_SIZE = len(vocabulary())


def llama_config(**changes):
    """A `LlamaConfig` dict of a tiny model: 2 blocks, width 64, 4 heads
    and 2 key/value heads of 16, SwiGLU of 96, rotary base 500 (far from
    the default 10,000, so that reading the wrong one shows)."""
    config = dict(model_type="llama", vocab_size=VOCABULARY_SIZE,
                  hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2,
                  max_position_embeddings=64, rms_norm_eps=1e-5,
                  rope_theta=500.0, tie_word_embeddings=True)
    config.update(changes)
    return config


def llama_weights(config, seed=0):
    """Random weights of a `llama_config`, with `lm_head.weight` unless
    the embeddings are tied."""
    rng = np.random.default_rng(seed)
    width = config["hidden_size"]
    head_dim = width // config["num_attention_heads"]
    kv_width = config["num_key_value_heads"] * head_dim
    inner = config["intermediate_size"]

    def matrix(rows, columns):
        return rng.normal(scale=0.15, size=(rows, columns)).astype(np.float32)

    def scale():
        return (1 + rng.normal(scale=0.2, size=width)).astype(np.float32)

    weights = {"model.embed_tokens.weight": matrix(
        config["vocab_size"], width), "model.norm.weight": scale()}
    for i in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{i}"
        weights.update({
            f"{prefix}.input_layernorm.weight": scale(),
            f"{prefix}.post_attention_layernorm.weight": scale(),
            f"{prefix}.self_attn.q_proj.weight": matrix(width, width),
            f"{prefix}.self_attn.k_proj.weight": matrix(kv_width, width),
            f"{prefix}.self_attn.v_proj.weight": matrix(kv_width, width),
            f"{prefix}.self_attn.o_proj.weight": matrix(width, width),
            f"{prefix}.mlp.gate_proj.weight": matrix(inner, width),
            f"{prefix}.mlp.up_proj.weight": matrix(inner, width),
            f"{prefix}.mlp.down_proj.weight": matrix(width, inner),
        })
    if not config["tie_word_embeddings"]:
        weights["lm_head.weight"] = matrix(config["vocab_size"], width)
    return weights


def gpt2_config(**changes):
    """A `GPT2Config` dict of a tiny model: 2 blocks, width 32, 4 heads,
    32 positions."""
    config = dict(model_type="gpt2", vocab_size=VOCABULARY_SIZE, n_embd=32,
                  n_layer=2, n_head=4, n_positions=32, n_inner=None,
                  layer_norm_epsilon=1e-5, activation_function="gelu_new")
    config.update(changes)
    return config


def gpt2_weights(config, seed=0):
    """Random weights of a `gpt2_config` under `transformer.` names,
    Conv1D kernels `(in, out)` as GPT-2 stores them."""
    rng = np.random.default_rng(seed)
    width = config["n_embd"]
    inner = config["n_inner"] or 4 * width

    def normal(*shape, center=0.0):
        return (center + rng.normal(scale=0.15, size=shape)).astype(
            np.float32)

    weights = {"transformer.wte.weight": normal(config["vocab_size"], width),
               "transformer.wpe.weight": normal(config["n_positions"], width),
               "transformer.ln_f.weight": normal(width, center=1.0),
               "transformer.ln_f.bias": normal(width)}
    for i in range(config["n_layer"]):
        prefix = f"transformer.h.{i}"
        for name in ("ln_1", "ln_2"):
            weights[f"{prefix}.{name}.weight"] = normal(width, center=1.0)
            weights[f"{prefix}.{name}.bias"] = normal(width)
        for name, rows, columns in (("attn.c_attn", width, 3 * width),
                                    ("attn.c_proj", width, width),
                                    ("mlp.c_fc", width, inner),
                                    ("mlp.c_proj", inner, width)):
            weights[f"{prefix}.{name}.weight"] = normal(rows, columns)
            weights[f"{prefix}.{name}.bias"] = normal(columns)
    return weights


# === GGUF ===

# Hugging Face's names (per block, and global) -> llama.cpp's.
_GGUF_NAMES = {
    "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_GGUF_GLOBAL_NAMES = {"model.embed_tokens.weight": "token_embd.weight",
                      "model.norm.weight": "output_norm.weight",
                      "lm_head.weight": "output.weight"}


def gguf_name(name):
    if not name.startswith("model.layers."):
        return _GGUF_GLOBAL_NAMES.get(name, name)
    _, _, layer, rest = name.split(".", 3)
    return f"blk.{layer}.{_GGUF_NAMES[rest.rsplit('.', 1)[0]]}.weight"


def permute(weight, num_heads):
    """llama.cpp's permutation of a query or key projection's rows
    (`convert_hf_to_gguf.py`, `LlamaModel.permute`)."""
    return (weight.reshape(num_heads, 2, weight.shape[0] // num_heads // 2,
                           *weight.shape[1:])
            .swapaxes(1, 2).reshape(weight.shape))


def write_llama_gguf(path, config, weights, tensor_type="F32",
                     architecture="llama", chat_template=CHATML_TEMPLATE):
    """Writes a llama GGUF file of `weights` (Hugging Face's names and
    layout), its matrices of `tensor_type` (norms stay F32), the shared
    tokenizer and `chat_template`.

    Returns:
        The weights as the file holds them, dequantized, in Hugging Face's
        names and layout: what the model read from it must compute with.
    """
    import gguf
    from gguf.quants import dequantize, quantize

    qtype = gguf.GGMLQuantizationType[tensor_type]
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    writer.add_rope_freq_base(config["rope_theta"])
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    tokens = vocabulary()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if token in SPECIAL_TOKENS else 1
                            for token in tokens])
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(BOS)
    writer.add_eos_token_id(EOS)
    if chat_template:
        writer.add_chat_template(chat_template)
    stored = {}
    for name, weight in weights.items():
        if weight.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            data, kind = weight, None
            stored[name] = weight
        else:  # quantized by rows: the permutation commutes with it
            data, kind = quantize(weight, qtype), qtype
            stored[name] = dequantize(data, qtype).reshape(weight.shape)
        if name.endswith("q_proj.weight"):
            data = permute(data, config["num_attention_heads"])
        elif name.endswith("k_proj.weight"):
            data = permute(data, config["num_key_value_heads"])
        writer.add_tensor(gguf_name(name), data, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored


# === Hugging Face folders ===

def tokenizer_json():
    """The shared tokenizer as Hugging Face `tokenizers` saves it."""
    from tokenizers import AddedToken, Tokenizer, decoders, models
    from tokenizers import pre_tokenizers

    tokenizer = Tokenizer(models.BPE(
        {token: i for i, token in enumerate(vocabulary())},
        [tuple(merge.split(" ")) for merge in MERGES]))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([
        AddedToken(token, special=True, normalized=False)
        for token in SPECIAL_TOKENS])
    return tokenizer.to_str()


def write_hf_folder(folder, config, weights, shards=1, dtype="F32",
                    chat_template=CHATML_TEMPLATE):
    """Writes a Hugging Face model folder: `config.json`, the weights in
    `shards` safetensors files (with `model.safetensors.index.json` when
    more than one) of `dtype` (F32, F16 or BF16), `tokenizer.json`, and
    `tokenizer_config.json` with the special tokens and `chat_template`.

    Returns:
        The weights as the files hold them, widened to float32.
    """
    import ml_dtypes
    from safetensors.numpy import save_file

    numpy_dtype = {"F32": np.float32, "F16": np.float16,
                   "BF16": ml_dtypes.bfloat16}[dtype]
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        f.write(tokenizer_json())
    tokenizer_config = {"bos_token": SPECIAL_TOKENS[BOS],
                        "eos_token": {"content": SPECIAL_TOKENS[EOS]}}
    if chat_template:
        tokenizer_config["chat_template"] = chat_template
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config, f)
    stored = {name: weight.astype(numpy_dtype)
              for name, weight in weights.items()}
    names = sorted(stored)
    if shards == 1:
        save_file(stored, os.path.join(folder, "model.safetensors"))
    else:
        weight_map = {}
        for shard in range(shards):
            file = f"model-{shard + 1:05d}-of-{shards:05d}.safetensors"
            part = names[shard::shards]
            save_file({name: stored[name] for name in part},
                      os.path.join(folder, file))
            weight_map.update(dict.fromkeys(part, file))
        with open(os.path.join(folder, "model.safetensors.index.json"),
                  "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)
    return {name: weight.astype(np.float32)
            for name, weight in stored.items()}


def token_ids(batch=2, length=12, seed=1):
    return np.random.default_rng(seed).integers(
        0, VOCABULARY_SIZE, (batch, length))
