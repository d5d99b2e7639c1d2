"""Named model sizes, and the training settings that suit each.

Pure data with no TensorFlow import (the command line lists it in
`--help`). A preset names its model (one of `tfzoo.choices.MODELS` but
`ngram`), the model's arguments except `vocabulary_size` (which comes from
the tokenizer), default training settings that the command line can
override (batch, peak learning rate, warmup, and optionally the
optimizer), and optionally a vocabulary size. `tfzoo.models.build_model`
builds a preset.
"""

import copy

DEFAULT_VOCABULARY_SIZE = 2000  # subword pieces, unless a preset says
# The longest text an imported pretrained model reads unless asked for
# more (`tfzoo import --max-sequence-length`): its context may be 8,192 or
# more, and a key/value cache, scoring windows and attention sized to that
# cost memory and time a laptop does not have.
PRETRAINED_MAX_SEQUENCE_LENGTH = 2048

# BERT-mini (Turc et al., 2019); texts of 128 WordPiece tokens, [CLS] and
# [SEP] included.
BERT_MINI = dict(num_layers=4, num_heads=4, hidden_dim=256,
                 intermediate_dim=1024, max_sequence_length=128, dropout=0.1)
# Classifiers warm up over a tenth of the run (`warmup_steps` None).
CLASSIFIER_TRAINING = dict(batch_size=32, warmup_steps=None)

PRESETS = {
    # A few minutes on a laptop CPU; the size of nanoGPT's CPU "baby GPT".
    "gpt-tiny": {
        "model": "gpt",
        "arguments": dict(
            max_sequence_length=64,
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
            max_sequence_length=256,
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
            max_sequence_length=128,
            num_layers=6,
            num_heads=8,
            hidden_dim=512,
            dropout=0.1,
        ),
        "training": dict(batch_size=32, learning_rate=6e-4, warmup_steps=200),
        "vocabulary_size": 10000,
    },
    # Subword language models (SentencePiece, 2,000 tokens): the recipe of
    # bench/word_level.py, the best found for 10 minutes on 2 CPU cores
    # (dropout 0.3: at 0.1 the GPT overfits its 40 epochs).
    "gpt-subword": {
        "model": "gpt",
        "arguments": dict(
            max_sequence_length=128,
            num_layers=4,
            num_heads=4,
            hidden_dim=128,
            dropout=0.3,
            positional_embedding="rotary",
        ),
        "training": dict(batch_size=32, learning_rate=1e-2, warmup_steps=100,
                         optimizer="muon"),
        "vocabulary_size": 2000,
    },
    "lstm-subword": {
        "model": "lstm",
        "arguments": dict(
            max_sequence_length=128,
            embedding_dim=256,
            hidden_dim=256,
            num_layers=1,
            dropout=0.3,
        ),
        "training": dict(batch_size=32, learning_rate=5e-3, warmup_steps=50),
        "vocabulary_size": 2000,
    },
    # The textbook's LSTM: Embedding, one LSTM of 128 units, Dense.
    "lstm-char": {
        "model": "lstm",
        "arguments": dict(
            max_sequence_length=128,
            embedding_dim=128,
            hidden_dim=128,
            num_layers=1,
        ),
        "training": dict(batch_size=32, learning_rate=5e-3, warmup_steps=50),
    },
    # Translation (encoder-decoder) models. Small enough for the tests.
    "seq2seq-tiny": {
        "model": "seq2seq",
        "arguments": dict(
            max_sequence_length=64,
            num_encoder_layers=2,
            num_decoder_layers=2,
            num_heads=4,
            hidden_dim=64,
            dropout=0.0,
        ),
        "training": dict(batch_size=32, learning_rate=2e-3, warmup_steps=50),
        "vocabulary_size": 1000,
    },
    # The Transformer that bench/translation.py trains on 2 CPU cores.
    "seq2seq-small": {
        "model": "seq2seq",
        "arguments": dict(
            max_sequence_length=128,
            num_encoder_layers=3,
            num_decoder_layers=3,
            num_heads=4,
            hidden_dim=256,
            intermediate_dim=1024,
            dropout=0.1,
        ),
        "training": dict(batch_size=64, learning_rate=1e-3, warmup_steps=400),
        "vocabulary_size": 8000,
    },
    # "Attention Is All You Need", the base model (table 3): 6 + 6 layers,
    # d_model 512, 8 heads, d_ff 2048, dropout 0.1, post-LayerNorm, a
    # shared vocabulary of about 37,000 BPE tokens (WMT'14 en-de). Built
    # and counted by the tests; too big to train on a CPU.
    "transformer-base": {
        "model": "seq2seq",
        "arguments": dict(
            max_sequence_length=256,
            num_encoder_layers=6,
            num_decoder_layers=6,
            num_heads=8,
            hidden_dim=512,
            intermediate_dim=2048,
            dropout=0.1,
            norm_first=False,
        ),
        "training": dict(batch_size=64, learning_rate=7e-4,
                         warmup_steps=4000),
        "vocabulary_size": 37000,
    },
    # Classifiers and masked-LM encoders trained from scratch (a
    # bert-classifier with --init takes its checkpoint's sizes instead).
    # BERT-mini's shape (Turc et al., 2019).
    "bert-mini": {
        "model": "bert-classifier",
        "arguments": dict(BERT_MINI),
        "training": dict(CLASSIFIER_TRAINING, learning_rate=5e-4),
        "vocabulary_size": 8000,
    },
    "bert-mini-mlm": {
        "model": "bert-mlm",
        "arguments": dict(BERT_MINI),
        "training": dict(batch_size=32, learning_rate=5e-4,
                         warmup_steps=None),
        "vocabulary_size": 8000,
    },
    # gpt-tiny's shape, bidirectional.
    "transformer-tiny-classifier": {
        "model": "transformer-classifier",
        "arguments": dict(num_layers=4, num_heads=4, hidden_dim=128,
                          intermediate_dim=512, max_sequence_length=128,
                          dropout=0.1),
        "training": dict(CLASSIFIER_TRAINING, learning_rate=5e-4),
        "vocabulary_size": 8000,
    },
    "lstm-classifier": {
        "model": "lstm-classifier",
        "arguments": dict(embedding_dim=128, hidden_dim=128,
                          max_sequence_length=128, dropout=0.1),
        "training": dict(CLASSIFIER_TRAINING, learning_rate=2e-3),
        "vocabulary_size": 8000,
    },
    # The recurrent baseline: 2 + 2 LSTM layers with Luong attention.
    "lstm-seq2seq": {
        "model": "lstm-seq2seq",
        "arguments": dict(
            max_sequence_length=128,
            embedding_dim=256,
            hidden_dim=256,
            num_layers=2,
            dropout=0.1,
        ),
        "training": dict(batch_size=64, learning_rate=2e-3, warmup_steps=200),
        "vocabulary_size": 8000,
    },
}

# The preset of each model when `--preset` is left out; language models on
# subwords take `SUBWORD_PRESETS`'.
DEFAULT_PRESETS = {"gpt": "gpt-tiny", "lstm": "lstm-char",
                   "bert-classifier": "bert-mini",
                   "transformer-classifier": "transformer-tiny-classifier",
                   "lstm-classifier": "lstm-classifier",
                   "bert-mlm": "bert-mini-mlm",
                   "seq2seq": "seq2seq-small", "lstm-seq2seq": "lstm-seq2seq"}
SUBWORD_PRESETS = {"gpt": "gpt-subword", "lstm": "lstm-subword"}


def default_preset(model, tokenizer="char"):
    """The preset `model` trains with when none is named: the subword
    recipe for a language model on `"subword"` tokens."""
    if tokenizer == "subword" and model in SUBWORD_PRESETS:
        return SUBWORD_PRESETS[model]
    return DEFAULT_PRESETS[model]


def get_preset(name):
    """Returns a copy of the preset `name`.

    Raises:
        ValueError: `name` is not a key of `PRESETS`.
    """
    if name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}"
        )
    return copy.deepcopy(PRESETS[name])


def preset_default(spec, name):
    """The default that the preset `spec` (from `get_preset`) gives the
    setting `name`: its training settings (`batch_size`, `learning_rate`,
    `warmup_steps`, `optimizer`: AdamW unless it says), its model's
    `max_sequence_length` and `dropout` (0 unless it says), or its
    `vocabulary_size` (`DEFAULT_VOCABULARY_SIZE` unless it says)."""
    if name == "vocabulary_size":
        return spec.get("vocabulary_size", DEFAULT_VOCABULARY_SIZE)
    if name in ("max_sequence_length", "dropout"):
        return spec["arguments"].get(name, 0.0)
    if name == "optimizer":
        return spec["training"].get("optimizer", "adamw")
    return spec["training"][name]
