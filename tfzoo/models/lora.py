"""Low-rank adapters (LoRA, Hu et al., 2021) on a `TransformerLM`, by
Keras' own `Dense.enable_lora`.

A projection `W` (frozen) becomes `W + (alpha / rank) A B` with `A`
`(in, rank)` and `B` `(rank, out)` trained (`B` starts at zero, so the
adapted model starts as the base). `enable_lora` puts adapters on the
projections a fine-tuning run names (`TARGETS`) and freezes every other
weight; `save_adapters` and `load_adapters` keep the adapters (and the
optimizer's state of them) apart from the base, so that a run folder
holds kilobytes to megabytes instead of a copy of the base; `merge`
folds them into the kernels (Keras' own merge, as its saving does) for a
model that costs what the base costs.

Keras saves a LoRA layer merged and zeroes its adapters on loading, so a
LoRA model's own `save_weights`/`load_weights` cannot resume one: use
these.
"""

import os
import tempfile

import keras
import numpy as np

# The projections `--lora-targets` names: {name: (sublayer path, ...)} in
# a `TransformerBlock` (see `SelfAttention` and `TransformerBlock`).
TARGETS = {
    "query": ("attention.query_dense",),
    "key": ("attention.key_dense",),
    "value": ("attention.value_dense",),
    "attention_output": ("attention.output_dense",),
    "mlp": ("mlp_gate", "mlp_in", "mlp_out"),
}
DEFAULT_TARGETS = ("query", "value")
ADAPTER_NAMES = ("lora_kernel_a", "lora_kernel_b")


def _sublayer(block, path):
    layer = block
    for name in path.split("."):
        layer = getattr(layer, name, None)
    return layer


def target_layers(model, targets):
    """The `Dense` layers of `model`'s blocks that `targets` name.

    Raises:
        ValueError: an unknown target, or one the model lacks (a classic
            GPT's attention projects queries, keys and values at once:
            `qkv`; a GELU MLP has no `mlp_gate`, which is skipped).
    """
    layers = []
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"--lora-targets: unknown projection "
                             f"{target!r}; choose from: {', '.join(TARGETS)}")
        found = [_sublayer(block, path) for block in model.blocks
                 for path in TARGETS[target]]
        found = [layer for layer in found if layer is not None]
        if not found:
            raise ValueError(
                f"--lora-targets {target}: this model has no {target} "
                "projection (its attention projects queries, keys and "
                "values at once); choose from: attention_output, mlp")
        layers.extend(found)
    return layers


def enable_lora(model, rank, alpha=None, targets=DEFAULT_TARGETS):
    """Adapters of `rank` (scaled by `alpha / rank`, `alpha` defaulting to
    `rank`) on `targets`, every other weight of `model` frozen.

    Returns:
        `model`, changed in place.

    Raises:
        ValueError: a rank below 1; see `target_layers`.
    """
    if rank < 1:
        raise ValueError(f"--lora-rank must be at least 1, got {rank}")
    layers = target_layers(model, targets)
    for variable in model.variables:
        variable.trainable = False
    for layer in layers:
        layer.enable_lora(rank, lora_alpha=alpha if alpha else rank)
    return model


def lora_layers(model):
    """The layers of `model` with LoRA enabled (none for a model that is
    not a Keras model, such as an `NGramLM`)."""
    if not hasattr(model, "_flatten_layers"):
        return []
    return [layer for layer in model._flatten_layers()
            if getattr(layer, "lora_enabled", False)]


def has_lora(model):
    return bool(lora_layers(model))


def adapter_variables(model):
    """The adapters' variables (`A` and `B` of each layer), in layer
    order."""
    return [variable for layer in lora_layers(model)
            for variable in (layer.lora_kernel_a, layer.lora_kernel_b)]


def count_parameters(variables):
    return int(sum(np.prod(variable.shape) for variable in variables))


def save_adapters(model, path, optimizer=None):
    """Writes the adapters of `model` (and the state of `optimizer`, if it
    is built) to `path`, an `.npz` file."""
    arrays = {f"adapter_{i}": keras.ops.convert_to_numpy(variable)
              for i, variable in enumerate(adapter_variables(model))}
    if optimizer is not None and optimizer.built:
        arrays.update({f"optimizer_{i}": keras.ops.convert_to_numpy(variable)
                       for i, variable in enumerate(optimizer.variables)})
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def load_adapters(model, path, optimizer=None):
    """Sets the adapters of `model` (and the state of `optimizer`, built
    here if need be) from a `save_adapters` file.

    Raises:
        ValueError: the file's adapters do not fit the model's.
    """
    variables = adapter_variables(model)
    with np.load(path) as arrays:
        saved = sum(name.startswith("adapter_") for name in arrays.files)
        if saved != len(variables):
            raise ValueError(f"{path} holds {saved} adapter weights, the "
                             f"model has {len(variables)}")
        for i, variable in enumerate(variables):
            _assign(variable, arrays[f"adapter_{i}"], path)
        if optimizer is not None and "optimizer_0" in arrays.files:
            if not optimizer.built:
                optimizer.build(model.trainable_variables)
            for i, variable in enumerate(optimizer.variables):
                _assign(variable, arrays[f"optimizer_{i}"], path)


def _assign(variable, value, path):
    if tuple(variable.shape) != value.shape:
        raise ValueError(f"{path}: {variable.path} is "
                         f"{tuple(variable.shape)}, the file gives "
                         f"{value.shape}")
    variable.assign(value)


def merge(model):
    """A copy of `model` without LoRA layers, each adapter folded into its
    kernel (`W + (alpha / rank) A B`, Keras' own merge as it saves a LoRA
    layer): the same outputs within float32 rounding, the base's cost."""
    plain = type(model).from_config(model.get_config())
    plain.build((None, None))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "merged.weights.h5")
        model.save_weights(path)
        plain.load_weights(path)
    return plain
