"""Text generation with a key/value cache.

- `generate(model, tokenizer, prompts, ...)` (`generate`): the Python API.
- `TextGenerator` (`text_generator`): the same as a `tf.Module` with string
  signatures, which `tfzoo.export` saves for TF Serving.
- `Decoder` (`decoding`: the loop over token ids) and `next_token`
  (`sampling`: the sampling rules).
- Translation: `translate(model, tokenizer, sources, ...)` (`translate`),
  `Translator` (`translator`: the string module that export saves) and
  `Seq2SeqDecoder` (`seq2seq_decoding`: sampling and beam search loops).
"""

from tfzoo.generation.decoding import Decoder
from tfzoo.generation.generate import generate
from tfzoo.generation.sampling import next_token
from tfzoo.generation.seq2seq_decoding import Seq2SeqDecoder
from tfzoo.generation.text_generator import TextGenerator
from tfzoo.generation.translate import translate
from tfzoo.generation.translator import Translator

__all__ = [
    "Decoder",
    "Seq2SeqDecoder",
    "TextGenerator",
    "Translator",
    "generate",
    "next_token",
    "translate",
]
