"""A Llama-style decoder in plain numpy: the reference for the modern
`TransformerLM` options, and for loaders of Llama checkpoints.

Written from Hugging Face's `modeling_llama.py`, in float64, one readable
function per piece. Weights are a dict of arrays named and laid out as in
a Hugging Face Llama checkpoint: a linear layer's `weight` is
`(out_features, in_features)` and computes `x @ weight.T` (+ `bias`, if
the dict has one, as Qwen2's attention):

    model.embed_tokens.weight                     (vocabulary, width)
    model.layers.{i}.input_layernorm.weight       (width,)
    model.layers.{i}.self_attn.q_proj.weight      (heads * head_dim, width)
    model.layers.{i}.self_attn.k_proj.weight      (kv_heads * head_dim, width)
    model.layers.{i}.self_attn.v_proj.weight      (kv_heads * head_dim, width)
    model.layers.{i}.self_attn.o_proj.weight      (width, heads * head_dim)
    model.layers.{i}.post_attention_layernorm.weight
    model.layers.{i}.mlp.gate_proj.weight         (intermediate, width)
    model.layers.{i}.mlp.up_proj.weight           (intermediate, width)
    model.layers.{i}.mlp.down_proj.weight         (width, intermediate)
    model.norm.weight                             (width,)
    lm_head.weight        (vocabulary, width); absent if tied

and the config keys are Hugging Face's `LlamaConfig` names
(`num_hidden_layers`, `num_attention_heads`, `num_key_value_heads`,
`rms_norm_eps`, `rope_theta`).

`hf_weights(model)` reads those arrays out of a tfzoo `TransformerLM`
built with the modern options, and `hf_config(model)` its config.
"""

import numpy as np


def rms_norm(x, weight, eps):
    """`x / sqrt(mean(x^2) + eps) * weight` over the last axis."""
    x = np.asarray(x, np.float64)
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * weight


def rotate_half(x):
    """Hugging Face's `rotate_half`: `[x1, x2] -> [-x2, x1]`, halves of
    the last axis."""
    x1, x2 = np.split(x, 2, axis=-1)
    return np.concatenate([-x2, x1], axis=-1)


def rotary(x, positions, base):
    """Rotary position embedding of `x`, `(batch, length, heads, head_dim)`,
    at `positions` `(length,)`, Hugging Face's convention: dimension `i`
    pairs with `i + head_dim / 2`, turned by `position * base^(-2i/d)`."""
    head_dim = x.shape[-1]
    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)
    freqs = np.outer(np.asarray(positions, np.float64), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)  # (length, head_dim)
    cos, sin = np.cos(emb)[:, None, :], np.sin(emb)[:, None, :]
    return x * cos + rotate_half(x) * sin


def rotary_interleaved(x, positions, base):
    """The same rotation with pairs `(2i, 2i + 1)` (GPT-J, llama.cpp's
    GGUF layout): a different function of `x`, for contrast."""
    head_dim = x.shape[-1]
    inv_freq = 1.0 / base ** (np.arange(0, head_dim, 2) / head_dim)
    angles = np.outer(np.asarray(positions, np.float64), inv_freq)
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    even, odd = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x, dtype=np.float64)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


def linear(x, weights, name):
    """`x @ weights[name.weight].T`, plus the bias if there is one."""
    y = x @ np.asarray(weights[f"{name}.weight"], np.float64).T
    if f"{name}.bias" in weights:
        y = y + weights[f"{name}.bias"]
    return y


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def silu(x):
    return x / (1.0 + np.exp(-x))


def attention(x, weights, prefix, num_heads, num_key_value_heads,
              rope_theta=10000.0, rotary_embedding=True):
    """Causal grouped-query self-attention of `x`, `(batch, length,
    width)`, with the projections `prefix.{q,k,v,o}_proj`."""
    batch, length, _ = x.shape
    query = linear(x, weights, f"{prefix}.q_proj")
    head_dim = query.shape[-1] // num_heads
    query = query.reshape(batch, length, num_heads, head_dim)
    key = linear(x, weights, f"{prefix}.k_proj").reshape(
        batch, length, num_key_value_heads, head_dim)
    value = linear(x, weights, f"{prefix}.v_proj").reshape(
        batch, length, num_key_value_heads, head_dim)
    if rotary_embedding:
        positions = np.arange(length)
        query = rotary(query, positions, rope_theta)
        key = rotary(key, positions, rope_theta)
    # repeat_kv: query head h reads key/value head h // groups.
    groups = num_heads // num_key_value_heads
    key = np.repeat(key, groups, axis=2)
    value = np.repeat(value, groups, axis=2)
    scores = np.einsum("bthd,bshd->bhts", query, key) / np.sqrt(head_dim)
    causal = np.tril(np.ones((length, length), bool))
    scores = np.where(causal, scores, -np.inf)
    mixed = np.einsum("bhts,bshd->bthd", softmax(scores), value)
    return linear(mixed.reshape(batch, length, -1), weights,
                  f"{prefix}.o_proj")


def swiglu(x, weights, prefix):
    """`down(silu(gate(x)) * up(x))` with `prefix.{gate,up,down}_proj`."""
    hidden = silu(linear(x, weights, f"{prefix}.gate_proj")) * linear(
        x, weights, f"{prefix}.up_proj")
    return linear(hidden, weights, f"{prefix}.down_proj")


def decoder_layer(x, weights, i, config):
    """One pre-norm Llama block."""
    prefix = f"model.layers.{i}"
    eps = config["rms_norm_eps"]
    x = x + attention(
        rms_norm(x, weights[f"{prefix}.input_layernorm.weight"], eps),
        weights, f"{prefix}.self_attn", config["num_attention_heads"],
        config["num_key_value_heads"], config["rope_theta"])
    return x + swiglu(
        rms_norm(x, weights[f"{prefix}.post_attention_layernorm.weight"],
                 eps),
        weights, f"{prefix}.mlp")


def forward(weights, token_ids, config):
    """Next-token logits, float64 `(batch, length, vocabulary)`, of
    `token_ids` `(batch, length)`: embeddings, the blocks, the final
    RMSNorm, the output layer (the embedding's transpose if there is no
    `lm_head.weight`)."""
    embeddings = np.asarray(weights["model.embed_tokens.weight"], np.float64)
    x = embeddings[np.asarray(token_ids)]
    for i in range(config["num_hidden_layers"]):
        x = decoder_layer(x, weights, i, config)
    x = rms_norm(x, weights["model.norm.weight"], config["rms_norm_eps"])
    head = weights.get("lm_head.weight", embeddings)
    return x @ np.asarray(head, np.float64).T


# === tfzoo's TransformerLM, read as a Hugging Face checkpoint ===

def _dense(layer, name, weights):
    weights[f"{name}.weight"] = np.asarray(layer.kernel).T
    if layer.use_bias:
        weights[f"{name}.bias"] = np.asarray(layer.bias)


def hf_weights(model):
    """The weights of a modern tfzoo `TransformerLM` (rms_norm, swiglu,
    `num_key_value_heads`, rotary) as a Hugging Face Llama state dict of
    numpy arrays."""
    weights = {"model.embed_tokens.weight":
               np.asarray(model.token_embedding.embeddings)}
    for i, block in enumerate(model.blocks):
        prefix = f"model.layers.{i}"
        attention_layer = block.attention
        weights[f"{prefix}.input_layernorm.weight"] = np.asarray(
            block.attention_norm.scale)
        for layer, name in [(attention_layer.query_dense, "q_proj"),
                            (attention_layer.key_dense, "k_proj"),
                            (attention_layer.value_dense, "v_proj"),
                            (attention_layer.output_dense, "o_proj")]:
            _dense(layer, f"{prefix}.self_attn.{name}", weights)
        weights[f"{prefix}.post_attention_layernorm.weight"] = np.asarray(
            block.mlp_norm.scale)
        for layer, name in [(block.mlp_gate, "gate_proj"),
                            (block.mlp_in, "up_proj"),
                            (block.mlp_out, "down_proj")]:
            _dense(layer, f"{prefix}.mlp.{name}", weights)
    weights["model.norm.weight"] = np.asarray(model.final_norm.scale)
    if not model.tie_embeddings:
        weights["lm_head.weight"] = np.asarray(
            model.token_embedding.reverse_embeddings).T
    return weights


def hf_config(model):
    """A modern `TransformerLM`'s shape in `LlamaConfig`'s names."""
    return {
        "num_hidden_layers": model.num_layers,
        "num_attention_heads": model.num_heads,
        "num_key_value_heads": model.num_key_value_heads or model.num_heads,
        "rms_norm_eps": model.layer_norm_epsilon,
        "rope_theta": model.rotary_max_wavelength,
    }
