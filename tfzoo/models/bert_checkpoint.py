"""Load a Hugging Face BERT checkpoint folder into a `BertEncoder`.

The folder holds `config.json`, `model.safetensors` and `vocab.txt`, as
`transformers` writes them. Tensor names may carry a `bert.` prefix (task
checkpoints such as `BertForSequenceClassification`); heads (`cls.*`,
`classifier.*`) are not part of the encoder and are skipped.
"""

import json
import os

import numpy as np

from tfzoo.layers import gelu_approximate
from tfzoo.models.bert import BertEncoder

FILES = ("config.json", "model.safetensors", "vocab.txt")
_SKIPPED_PREFIXES = ("cls.", "classifier.")
_SKIPPED_NAMES = ("embeddings.position_ids",)
_EMBEDDINGS = "embeddings.word_embeddings.weight"
# Hugging Face's names of the MLP activation.
ACTIVATIONS = {"gelu": "gelu", "gelu_new": gelu_approximate,
               "gelu_pytorch_tanh": gelu_approximate}


def read_hf_config(folder):
    """`BertEncoder` arguments from a checkpoint's `config.json`."""
    missing = [f for f in FILES if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        raise ValueError(
            f"{folder} is not a Hugging Face BERT checkpoint: missing "
            f"{', '.join(missing)}"
        )
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    activation = config.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        raise ValueError(f"{folder}: hidden_act {activation!r} is not "
                         f"supported ({', '.join(ACTIVATIONS)})")
    try:
        return {
            "vocabulary_size": config["vocab_size"],
            "num_layers": config["num_hidden_layers"],
            "num_heads": config["num_attention_heads"],
            "hidden_dim": config["hidden_size"],
            "intermediate_dim": config["intermediate_size"],
            "max_sequence_length": config["max_position_embeddings"],
            "num_segments": config.get("type_vocab_size", 2),
            "dropout": config.get("hidden_dropout_prob", 0.1),
            "layer_norm_epsilon": config.get("layer_norm_eps", 1e-12),
            "activation": ACTIVATIONS[activation],
        }
    except KeyError as error:
        raise ValueError(f"{folder}/config.json lacks {error}") from None


def check_hf_checkpoint(folder):
    """Reads a checkpoint's config and the shape of its token embeddings
    from the safetensors header (no tensor is loaded), so that a wrong
    folder is refused before the input pipeline and the model are built.
    `from_hf_checkpoint` starts with it, then checks every tensor.

    Args:
        folder: str, the checkpoint folder.

    Returns:
        `BertEncoder` arguments from its `config.json` (`read_hf_config`).

    Raises:
        ValueError: missing files, an unsupported config, a file that is
            not safetensors, or token embeddings whose shape does not fit
            `vocab_size` x `hidden_size`.
    """
    from safetensors import SafetensorError, safe_open

    config = read_hf_config(folder)
    expected = (config["vocabulary_size"], config["hidden_dim"])
    path = os.path.join(folder, "model.safetensors")
    try:
        tensors = safe_open(path, framework="numpy")
    except SafetensorError as error:
        raise ValueError(f"{path} is not a safetensors file ({error})"
                         ) from None
    with tensors:
        for name in tensors.keys():
            if name.removeprefix("bert.") == _EMBEDDINGS:
                shape = tuple(tensors.get_slice(name).get_shape())
                if shape != expected:
                    raise ValueError(
                        f"{folder}: {_EMBEDDINGS} has shape {shape}, which "
                        "does not fit the sizes in config.json")
    return config


def from_hf_checkpoint(folder, **overrides):
    """A `BertEncoder` with the weights of a Hugging Face BERT checkpoint.

    Args:
        folder: str, the checkpoint folder.
        **overrides: `BertEncoder` arguments to change, such as `dropout`.

    Returns:
        The encoder, computing what `transformers.BertModel` computes
        (exact GELU for `hidden_act="gelu"`). keras-hub's `BertBackbone`
        uses the tanh GELU instead; pass
        `activation=tfzoo.layers.gelu_approximate` to match it.

    Raises:
        ValueError: files or tensors are missing, or a tensor's shape does
            not fit the config; the message names them.

    Example:
    >>> encoder = from_hf_checkpoint("checkpoints/MiniLM-L6-H384")
    """
    from safetensors.numpy import load_file

    config = {**check_hf_checkpoint(folder), **overrides}
    tensors = {}
    for name, value in load_file(os.path.join(folder,
                                              "model.safetensors")).items():
        name = name.removeprefix("bert.")
        if name in _SKIPPED_NAMES or name.startswith(_SKIPPED_PREFIXES):
            continue
        tensors[name.replace("LayerNorm.gamma", "LayerNorm.weight")
                    .replace("LayerNorm.beta", "LayerNorm.bias")] = value
    encoder = BertEncoder(**config)
    assignments = _assignments(encoder)

    missing = sorted(set().union(*(names for _, names, _ in assignments))
                     - set(tensors))
    if missing:
        raise ValueError(f"{folder}: the checkpoint lacks {len(missing)} "
                         f"tensor(s): {', '.join(missing[:8])}"
                         + (" ..." if len(missing) > 8 else ""))
    unused = sorted(set(tensors) - set().union(
        *(names for _, names, _ in assignments)))
    if unused:
        raise ValueError(f"{folder}: unexpected tensor(s) for a BERT encoder "
                         f"of this config: {', '.join(unused[:8])}")
    for variable, names, combine in assignments:
        value = combine(*(tensors[n] for n in names))
        if tuple(value.shape) != tuple(variable.shape):
            shapes = ", ".join(str(tensors[n].shape) for n in names)
            raise ValueError(
                f"{folder}: {' + '.join(names)} has shape {shapes}, which "
                "does not fit the sizes in config.json"
            )
        variable.assign(value)
    return encoder


def _assignments(encoder):
    """`(variable, checkpoint tensor names, combine)` for every weight.

    Hugging Face stores dense kernels as `(out, in)`; Keras as `(in, out)`.
    tfzoo's fused QKV kernel is the query, key and value kernels side by
    side.
    """

    def same(x):
        return x

    def transposed(x):
        return x.T

    def side_by_side(*xs):
        return np.concatenate([x.T if x.ndim == 2 else x for x in xs], axis=-1)

    def norm(layer, prefix):
        return [(layer.gamma, [prefix + ".weight"], same),
                (layer.beta, [prefix + ".bias"], same)]

    def dense(layer, prefix):
        return [(layer.kernel, [prefix + ".weight"], transposed),
                (layer.bias, [prefix + ".bias"], same)]

    result = [
        (encoder.token_embedding.embeddings,
         ["embeddings.word_embeddings.weight"], same),
        (encoder.position_embedding.embeddings,
         ["embeddings.position_embeddings.weight"], same),
        (encoder.segment_embedding.embeddings,
         ["embeddings.token_type_embeddings.weight"], same),
        *norm(encoder.embedding_norm, "embeddings.LayerNorm"),
        *dense(encoder.pooler, "pooler.dense"),
    ]
    for i, block in enumerate(encoder.blocks):
        p = f"encoder.layer.{i}."
        qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
        result += [
            (block.attention.qkv.kernel, [n + ".weight" for n in qkv],
             side_by_side),
            (block.attention.qkv.bias, [n + ".bias" for n in qkv],
             side_by_side),
            *dense(block.attention.output_dense, p + "attention.output.dense"),
            *norm(block.attention_norm, p + "attention.output.LayerNorm"),
            *dense(block.mlp_in, p + "intermediate.dense"),
            *dense(block.mlp_out, p + "output.dense"),
            *norm(block.mlp_norm, p + "output.LayerNorm"),
        ]
    return result
