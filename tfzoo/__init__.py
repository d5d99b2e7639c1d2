"""tfzoo: language models for Keras 3 and TensorFlow.

Layers live in `tfzoo.layers`, models in `tfzoo.models`, tokenizers in
`tfzoo.text`, input pipelines in `tfzoo.data`, the training loop in
`tfzoo.training`, text generation and scoring in `tfzoo.generation`
(also as `tfzoo.generate` and `tfzoo.score`; translation as
`tfzoo.translate`), SavedModel export in `tfzoo.export`, int8 weights for
serving in `tfzoo.quantization` (also as `tfzoo.quantize`); `tfzoo.cli` is
the `tfzoo` command.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # `tfzoo.generate`, `tfzoo.score`, `tfzoo.quantize` and `tfzoo.translate`
    # without importing TensorFlow
    # on `import tfzoo`, so that `tfzoo --help` stays quick.
    if name == "generate":
        from tfzoo.generation import generate

        return generate
    if name == "score":
        from tfzoo.generation.generate import score

        return score
    if name == "quantize":
        from tfzoo.quantization import quantize

        return quantize
    if name == "translate":
        from tfzoo.generation.translate import translate

        return translate
    raise AttributeError(f"module 'tfzoo' has no attribute {name!r}")
