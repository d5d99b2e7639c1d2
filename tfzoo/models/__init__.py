"""Language models built with the Keras functional API."""

from tfzoo.models.lstm_lm import LSTMLM
from tfzoo.models.presets import PRESETS, build_model, get_preset
from tfzoo.models.transformer_lm import TransformerLM

__all__ = ["LSTMLM", "PRESETS", "TransformerLM", "build_model", "get_preset"]
