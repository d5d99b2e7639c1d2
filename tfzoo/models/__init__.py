"""Models built with the Keras functional API: language models (GPT, LSTM),
a BERT-style encoder with classification and masked-LM heads, and
encoder-decoder translation models (Transformer, LSTM); and the counted
n-gram language model, the baseline."""

from tfzoo.models.bert import BertClassifier, BertEncoder, BertMaskedLM
from tfzoo.models.bert_checkpoint import from_hf_checkpoint
from tfzoo.models.lstm_classifier import LSTMClassifier
from tfzoo.models.lstm_lm import LSTMLM
from tfzoo.models.lstm_seq2seq import LSTMSeq2Seq
from tfzoo.models.build import build_model
from tfzoo.models.ngram_lm import NGramLM
from tfzoo.models.transformer_lm import TransformerLM
from tfzoo.models.transformer_seq2seq import TransformerSeq2Seq
from tfzoo.presets import PRESETS, get_preset

# Trained models are saved compiled with tfzoo's optimizers: register them too.
import tfzoo.optimizers  # noqa: E402, F401

__all__ = [
    "BertClassifier",
    "BertEncoder",
    "BertMaskedLM",
    "LSTMClassifier",
    "LSTMLM",
    "LSTMSeq2Seq",
    "NGramLM",
    "PRESETS",
    "TransformerLM",
    "TransformerSeq2Seq",
    "build_model",
    "from_hf_checkpoint",
    "get_preset",
]
