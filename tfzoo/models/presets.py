"""Named model sizes, and the training settings that suit each.

Each preset names its model family (`"gpt"` or `"lstm"`), the model's
arguments except `vocabulary_size` (which comes from the tokenizer), and
default training settings that the command line can override.
"""

import copy

from tfzoo.models.lstm_lm import LSTMLM
from tfzoo.models.transformer_lm import TransformerLM

PRESETS = {
    # A few minutes on a laptop CPU; the size of nanoGPT's CPU "baby GPT".
    "gpt-tiny": {
        "model": "gpt",
        "arguments": dict(
            context_length=64,
            num_layers=4,
            num_heads=4,
            hidden_dim=128,
            dropout=0.0,
        ),
        "training": dict(batch_size=32, learning_rate=2e-3, warmup_steps=100),
    },
    # nanoGPT's config/train_shakespeare_char.py.
    "gpt-shakespeare-char": {
        "model": "gpt",
        "arguments": dict(
            context_length=256,
            num_layers=6,
            num_heads=6,
            hidden_dim=384,
            dropout=0.2,
        ),
        "training": dict(batch_size=64, learning_rate=1e-3, warmup_steps=100),
    },
    # The textbook's example: a 10,000-token subword vocabulary, width 512,
    # 8 heads, 6 layers. The textbook gives no context length; 128 is ours.
    "gpt-textbook": {
        "model": "gpt",
        "arguments": dict(
            context_length=128,
            num_layers=6,
            num_heads=8,
            hidden_dim=512,
            dropout=0.1,
        ),
        "training": dict(batch_size=32, learning_rate=6e-4, warmup_steps=200),
        "vocabulary_size": 10000,
    },
    # The textbook's LSTM: Embedding, one LSTM of 128 units, Dense.
    "lstm-char": {
        "model": "lstm",
        "arguments": dict(
            context_length=128,
            embedding_dim=128,
            hidden_dim=128,
            num_layers=1,
        ),
        "training": dict(batch_size=32, learning_rate=5e-3, warmup_steps=50),
    },
}

MODEL_CLASSES = {"gpt": TransformerLM, "lstm": LSTMLM}


def get_preset(name):
    """Returns a copy of the preset `name`; raises `ValueError` if unknown."""
    if name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        )
    return copy.deepcopy(PRESETS[name])


def build_model(preset, vocabulary_size, **overrides):
    """Builds the model of a preset for a tokenizer's vocabulary size.

    Args:
        preset: str, a key of `PRESETS`.
        vocabulary_size: int, from the tokenizer.
        **overrides: model arguments that replace the preset's.

    Example:
    >>> model = build_model("gpt-tiny", vocabulary_size=65)
    >>> model.count_params() > 0
    True
    """
    spec = get_preset(preset)
    arguments = {**spec["arguments"], **overrides}
    model_class = MODEL_CLASSES[spec["model"]]
    return model_class(vocabulary_size=vocabulary_size, **arguments)
