"""A language-model run's settings: the preset each model and tokenizer
take by default, and what the command line overrides."""

import pytest

from tfzoo.presets import PRESETS
from tfzoo.tasks.language_model import make_settings


@pytest.mark.parametrize("model, tokenizer, preset, optimizer", [
    ("gpt", "char", "gpt-tiny", "adamw"),
    ("gpt", "subword", "gpt-subword", "muon"),
    ("lstm", "char", "lstm-char", "adamw"),
    ("lstm", "subword", "lstm-subword", "adamw"),
])
def test_each_tokenizer_has_its_default_preset(model, tokenizer, preset,
                                                optimizer):
    settings = make_settings(model, tokenizer=tokenizer)
    spec = PRESETS[preset]
    assert settings["preset"] == preset
    assert settings["optimizer"] == optimizer
    assert settings["learning_rate"] == spec["training"]["learning_rate"]
    assert settings["max_sequence_length"] == (
        spec["arguments"]["max_sequence_length"])
    assert settings["vocabulary_size"] == (
        2000 if tokenizer == "subword" else None)


def test_named_settings_win_over_the_presets():
    settings = make_settings("gpt", tokenizer="subword", optimizer="adamw",
                             learning_rate=3e-4, vocabulary_size=500)
    assert (settings["optimizer"], settings["learning_rate"],
            settings["vocabulary_size"]) == ("adamw", 3e-4, 500)
    # A preset named on subwords is kept, with its own optimizer.
    settings = make_settings("gpt", "gpt-tiny", tokenizer="subword")
    assert (settings["preset"], settings["optimizer"]) == ("gpt-tiny",
                                                           "adamw")


def test_a_preset_of_another_model_is_refused():
    with pytest.raises(ValueError, match="'gpt-subword' is a gpt model"):
        make_settings("lstm", "gpt-subword", tokenizer="subword")
