"""Decoding loops over token ids, cached and compiled with XLA.

- `Decoder` (`decoder`): one prefill pass, then one token per step, for a
  `TransformerLM` (key/value cache) or an `LSTMLM` (its state).
- `Seq2SeqDecoder` (`seq2seq_decoder`): sampling and beam search for the
  translation models.
- `next_token` (`sampling`): greedy, temperature, top-k and top-p.
- `scoring`: the log-likelihood of whole texts with overlapping windows.

The string modules in `tfzoo.serving` wrap these loops; `tfzoo.generation`
calls them from Python.
"""

from tfzoo.decoding.decoder import Decoder
from tfzoo.decoding.sampling import next_token
from tfzoo.decoding.seq2seq_decoder import Seq2SeqDecoder

__all__ = ["Decoder", "Seq2SeqDecoder", "next_token"]
