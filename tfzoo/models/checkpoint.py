"""`Checkpoint`: a pretrained causal language model's architecture and
weights, read from any of the formats tfzoo imports, in one form.

`gguf_checkpoint.read_gguf` (llama.cpp's GGUF files) and
`hf_checkpoint.read_hf_folder` (Hugging Face folders) both return a
`Checkpoint`: `TransformerLM`'s constructor arguments and the weights
under Hugging Face's names (`model.layers.0.self_attn.q_proj.weight`,
row-major `(out, in)` as PyTorch stores them). `build_transformer_lm`
then builds the model and sets its weights, whatever the source.
"""

from typing import NamedTuple, Optional

import numpy as np

from tfzoo.models.transformer_lm import TransformerLM

# The architectures tfzoo loads, by their names in GGUF files
# (`general.architecture`) and Hugging Face configs (`model_type`).
ARCHITECTURES = ("llama", "gpt2")


class Checkpoint(NamedTuple):
    """A pretrained causal LM, read from a file or folder.

    Attributes:
        architecture: `"llama"` or `"gpt2"`.
        arguments: dict, `TransformerLM`'s constructor arguments.
        weights: dict `{Hugging Face name: float32 numpy array}`.
        source: str, where it was read from.
        chat_template: str or None, the Jinja template of its chat format.
        special_tokens: dict of the tokens that frame a text or a turn:
            `bos`, `eos` (each a token string, or absent).
    """

    architecture: str
    arguments: dict
    weights: dict
    source: str
    chat_template: Optional[str] = None
    special_tokens: Optional[dict] = None


def unsupported_architecture(name, source):
    """The one-line `ValueError` for an architecture tfzoo does not load."""
    return ValueError(
        f"{source}: architecture {name!r} is not supported; tfzoo imports "
        f"{' and '.join(ARCHITECTURES)} causal language models")


def build_transformer_lm(checkpoint, max_sequence_length=None):
    """A `TransformerLM` of `checkpoint`'s architecture with its weights.

    Args:
        checkpoint: a `Checkpoint`.
        max_sequence_length: int or None, the model's max sequence length
            (default: the checkpoint's; a rotary model reads any length up
            to it, learned positions are cut to it).

    Returns:
        The model, float32.

    Raises:
        ValueError: a weight that is missing or of another shape than the
            architecture says (a damaged or mismatched file).
    """
    arguments = dict(checkpoint.arguments)
    if max_sequence_length:
        arguments["max_sequence_length"] = max_sequence_length
    model = TransformerLM(**arguments)
    values = _model_weights(checkpoint, model)
    for variable, value in zip(model.weights, values):
        if tuple(variable.shape) != value.shape:
            raise ValueError(
                f"{checkpoint.source}: {variable.path} should be "
                f"{tuple(variable.shape)}, the file gives {value.shape}")
        variable.assign(value)
    return model


def _model_weights(checkpoint, model):
    """The checkpoint's arrays in the order of `model.weights`."""
    weights = checkpoint.weights
    by_path = {}
    prefix = "model" if checkpoint.architecture == "llama" else "transformer"

    def take(name):
        if name not in weights:
            raise ValueError(f"{checkpoint.source} has no weight {name}")
        return np.asarray(weights[name], np.float32)

    if checkpoint.architecture == "llama":
        by_path["token_embedding/embeddings"] = take(
            f"{prefix}.embed_tokens.weight")
        for i in range(model.num_layers):
            layer = f"{prefix}.layers.{i}"
            block = f"block_{i}"
            by_path.update({
                f"{block}/attention_norm/scale": take(
                    f"{layer}.input_layernorm.weight"),
                f"{block}/mlp_norm/scale": take(
                    f"{layer}.post_attention_layernorm.weight"),
                f"{block}/attention/query/kernel": take(
                    f"{layer}.self_attn.q_proj.weight").T,
                f"{block}/attention/key/kernel": take(
                    f"{layer}.self_attn.k_proj.weight").T,
                f"{block}/attention/value/kernel": take(
                    f"{layer}.self_attn.v_proj.weight").T,
                f"{block}/attention/output/kernel": take(
                    f"{layer}.self_attn.o_proj.weight").T,
                f"{block}/mlp_gate/kernel": take(
                    f"{layer}.mlp.gate_proj.weight").T,
                f"{block}/mlp_in/kernel": take(
                    f"{layer}.mlp.up_proj.weight").T,
                f"{block}/mlp_out/kernel": take(
                    f"{layer}.mlp.down_proj.weight").T,
            })
        by_path["final_norm/scale"] = take(f"{prefix}.norm.weight")
        if not model.tie_embeddings:
            by_path["token_embedding/reverse_embeddings"] = take(
                "lm_head.weight").T
    else:  # GPT-2: Conv1D weights are stored (in, out), as Keras keeps them
        by_path["token_embedding/embeddings"] = take(f"{prefix}.wte.weight")
        by_path["position_embedding/embeddings"] = take(
            f"{prefix}.wpe.weight")[:model.max_sequence_length]
        for i in range(model.num_layers):
            layer = f"{prefix}.h.{i}"
            block = f"block_{i}"
            for norm, name in (("attention_norm", "ln_1"),
                               ("mlp_norm", "ln_2")):
                by_path[f"{block}/{norm}/gamma"] = take(
                    f"{layer}.{name}.weight")
                by_path[f"{block}/{norm}/beta"] = take(f"{layer}.{name}.bias")
            for dense, name in (("attention/qkv", "attn.c_attn"),
                                ("attention/output", "attn.c_proj"),
                                ("mlp_in", "mlp.c_fc"),
                                ("mlp_out", "mlp.c_proj")):
                by_path[f"{block}/{dense}/kernel"] = take(
                    f"{layer}.{name}.weight")
                by_path[f"{block}/{dense}/bias"] = take(f"{layer}.{name}.bias")
        by_path["final_norm/gamma"] = take(f"{prefix}.ln_f.weight")
        by_path["final_norm/beta"] = take(f"{prefix}.ln_f.bias")
    values = []
    for variable in model.weights:
        path = variable.path.split("/", 1)[1] if variable.path.startswith(
            model.name + "/") else variable.path
        if path not in by_path:
            raise ValueError(f"no weight in {checkpoint.source} for "
                             f"{variable.path}")
        values.append(by_path[path])
    return values
