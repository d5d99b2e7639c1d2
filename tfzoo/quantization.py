"""Post-training int8 quantization of a trained model, for serving.

Keras quantizes the weights of its `Dense`, `EinsumDense`, `Embedding`
and `ReversibleEmbedding` layers to int8 with one float32 scale per
output channel (absmax), and at run time quantizes each input row the
same way, multiplies in int8 and rescales (`keras.Model.quantize`; the
LLM.int8() scheme of Dettmers et al., 2022, section 3, without its
outlier decomposition). In a tfzoo GPT or BERT every weight matrix is in
such a layer: attention, MLP, token embedding and the tied output layer;
LayerNorms and position embeddings stay float32. An LSTM's LSTM layers
are not quantized (Keras' `LSTM` has no int8 mode); its embedding and
output layer are.
"""

import keras

from tfzoo.choices import QUANTIZATION_MODES, check_choice

QUANTIZABLE = (keras.layers.Dense, keras.layers.EinsumDense,
               keras.layers.Embedding)  # ReversibleEmbedding is an Embedding


def quantize(model, mode="int8"):
    """Quantizes `model`'s weights in place and returns it.

    Args:
        model: a built Keras model (any tfzoo model but the n-gram).
        mode: str, one of `QUANTIZATION_MODES` (`"int8"`).

    Returns:
        `model`, whose quantizable layers now hold int8 kernels
        (`kernel` int8, `kernel_scale` float32; embeddings likewise).
        Export it (`tfzoo.export`, which keeps the int8 weights) or call
        it; a quantized tfzoo model does not round-trip through a
        `.keras` file (its layers rebuild their sublayers in float32), so
        a run folder keeps the float32 model and `tfzoo export
        --quantize int8` quantizes at export time.

    Raises:
        ValueError: an unknown `mode`; a model with no layer to quantize;
            a model already quantized.

    Example:
    >>> model = tfzoo.models.build_model("gpt-tiny", vocabulary_size=65)
    >>> tfzoo.quantize(model).get_layer("token_embedding").quantization_mode
    'int8'
    """
    check_choice("quantization mode", mode, QUANTIZATION_MODES)
    layers = quantizable_layers(model)
    if not layers:
        raise ValueError(f"{model.name} has no Dense or Embedding layer to "
                         "quantize")
    done = [layer for layer in layers if layer.quantization_mode]
    if done:
        raise ValueError(f"{model.name} is already quantized "
                         f"({done[0].name}: {done[0].quantization_mode})")
    # Only these layers: the others (LayerNorm, dropout, positions) have
    # no int8 mode, and Keras would warn about each.
    model.quantize(mode, filters=lambda layer: isinstance(layer, QUANTIZABLE))
    return model


def quantizable_layers(model):
    """The layers of `model`, nested ones included, that `quantize`
    quantizes."""
    return [layer for layer in model._flatten_layers(include_self=False)
            if isinstance(layer, QUANTIZABLE)]


def quantization_mode(model):
    """`"int8"` if `model` holds quantized layers, else `None`."""
    modes = {layer.quantization_mode for layer in quantizable_layers(model)}
    modes.discard(None)
    return modes.pop() if modes else None
