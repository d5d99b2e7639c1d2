"""Generation, translation and scoring from Python.

- `generate(model, tokenizer, prompts, ...)` and `score(model, tokenizer,
  texts)` (`generate`): they run the `TextGenerator` that `tfzoo export`
  saves, so Python and the SavedModel compute the same.
- `translate(model, tokenizer, sources, ...)` (`translate`): the
  `Translator`'s loops.
- `sample_ngram` (`ngram_sampling`): the n-gram model's sampler, in numpy.
"""

from tfzoo.generation.generate import generate, score
from tfzoo.generation.translate import translate

__all__ = ["generate", "score", "translate"]
