"""Build the model of a named preset (see `tfzoo.presets`)."""

from tfzoo.models.lstm_lm import LSTMLM
from tfzoo.models.lstm_seq2seq import LSTMSeq2Seq
from tfzoo.models.transformer_lm import TransformerLM
from tfzoo.models.transformer_seq2seq import TransformerSeq2Seq
from tfzoo.presets import get_preset

MODEL_CLASSES = {"gpt": TransformerLM, "lstm": LSTMLM,
                 "seq2seq": TransformerSeq2Seq, "lstm-seq2seq": LSTMSeq2Seq}


def build_model(preset, vocabulary_size, **overrides):
    """Builds the model of a preset for a tokenizer's vocabulary size.

    Args:
        preset: str, a key of `tfzoo.presets.PRESETS`.
        vocabulary_size: int, from the tokenizer.
        **overrides: model arguments that replace the preset's.

    Raises:
        ValueError: an unknown preset.

    Example:
    >>> model = build_model("gpt-tiny", vocabulary_size=65)
    >>> model.count_params() > 0
    True
    """
    spec = get_preset(preset)
    arguments = {**spec["arguments"], **overrides}
    model_class = MODEL_CLASSES[spec["model"]]
    return model_class(vocabulary_size=vocabulary_size, **arguments)
