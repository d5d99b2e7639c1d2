"""Text generation with a key/value cache.

- `generate(model, tokenizer, prompts, ...)` (`generate`): the Python API.
- `TextGenerator` (`text_generator`): the same as a `tf.Module` with string
  signatures, which `tfzoo.export` saves for TF Serving.
- `Decoder` (`decoding`: the loop over token ids) and `next_token`
  (`sampling`: the sampling rules).
"""

from tfzoo.generation.decoding import Decoder
from tfzoo.generation.generate import generate
from tfzoo.generation.sampling import next_token
from tfzoo.generation.text_generator import TextGenerator

__all__ = [
    "Decoder",
    "TextGenerator",
    "generate",
    "next_token",
]
