"""A tiny model must be able to memorize a short text."""

import keras
import numpy as np
import pytest

from tfzoo.models import LSTMLM, TransformerLM
from tfzoo.text import CharTokenizer, encode
from tfzoo.tasks.language_model import compile as compile_model

TEXT = "To be, or not to be, that is the question.\n" * 4


@pytest.mark.parametrize("model_class", [
    "gpt", pytest.param("lstm", marks=pytest.mark.slow)])
def test_overfits_a_short_text(model_class):
    keras.utils.set_random_seed(0)
    tokenizer = CharTokenizer.from_text(TEXT)
    ids = encode(tokenizer, TEXT)
    length = 42
    starts = np.arange(len(ids) - length - 1)
    windows = ids[starts[:, None] + np.arange(length + 1)]
    if model_class == "gpt":
        model = TransformerLM(tokenizer.vocabulary_size(), length,
                              num_layers=2, num_heads=2, hidden_dim=64)
    else:
        model = LSTMLM(tokenizer.vocabulary_size(), length, hidden_dim=128)
    compile_model(model)
    model.optimizer.learning_rate = 3e-3
    history = model.fit(windows[:, :-1], windows[:, 1:], batch_size=32,
                        epochs=60, verbose=0)
    # The text repeats, so after its first line every character is certain.
    assert history.history["loss"][-1] < 0.1
