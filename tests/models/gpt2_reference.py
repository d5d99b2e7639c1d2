"""GPT-2 in plain numpy: the reference for loaders of GPT-2 checkpoints.

Written from Hugging Face's `modeling_gpt2.py`, in float64. Weights are
named as in a Hugging Face `GPT2LMHeadModel` (`transformer.wte.weight`,
`transformer.h.{i}.attn.c_attn.weight`, ...); its Conv1D layers keep
their kernels `(in_features, out_features)` and compute `x @ weight +
bias`. The output layer is the token embedding's transpose.
"""

import numpy as np

from tests.models.llama_reference import softmax


def layer_norm(x, weights, name, eps):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return ((x - mean) / np.sqrt(variance + eps) * weights[f"{name}.weight"]
            + weights[f"{name}.bias"])


def conv1d(x, weights, name):
    return x @ np.asarray(weights[f"{name}.weight"], np.float64) + (
        weights[f"{name}.bias"])


def gelu_new(x):
    """GPT-2's activation (`gelu_new`): GELU's tanh approximation."""
    return 0.5 * x * (1.0 + np.tanh(
        np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def attention(x, weights, prefix, num_heads):
    batch, length, width = x.shape
    head_dim = width // num_heads
    query, key, value = np.split(conv1d(x, weights, f"{prefix}.c_attn"), 3,
                                 axis=-1)

    def heads(t):
        return t.reshape(batch, length, num_heads, head_dim)

    scores = np.einsum("bthd,bshd->bhts", heads(query), heads(key)) / (
        np.sqrt(head_dim))
    causal = np.tril(np.ones((length, length), bool))
    scores = np.where(causal, scores, -np.inf)
    mixed = np.einsum("bhts,bshd->bthd", softmax(scores), heads(value))
    return conv1d(mixed.reshape(batch, length, width), weights,
                  f"{prefix}.c_proj")


def forward(weights, token_ids, config):
    """Next-token logits, float64 `(batch, length, vocabulary)`, of
    `token_ids` `(batch, length)`; `config` in `GPT2Config`'s names
    (`n_layer`, `n_head`, `layer_norm_epsilon`)."""
    eps = config["layer_norm_epsilon"]
    embeddings = np.asarray(weights["transformer.wte.weight"], np.float64)
    length = np.shape(token_ids)[1]
    x = embeddings[np.asarray(token_ids)] + (
        weights["transformer.wpe.weight"][:length])
    for i in range(config["n_layer"]):
        prefix = f"transformer.h.{i}"
        x = x + attention(layer_norm(x, weights, f"{prefix}.ln_1", eps),
                          weights, f"{prefix}.attn", config["n_head"])
        hidden = gelu_new(conv1d(
            layer_norm(x, weights, f"{prefix}.ln_2", eps), weights,
            f"{prefix}.mlp.c_fc"))
        x = x + conv1d(hidden, weights, f"{prefix}.mlp.c_proj")
    x = layer_norm(x, weights, "transformer.ln_f", eps)
    return x @ embeddings.T
