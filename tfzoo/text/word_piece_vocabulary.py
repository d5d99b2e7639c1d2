"""Learning a WordPiece vocabulary, with progress on the way.

keras-hub's `compute_word_piece_vocabulary` pretokenizes the texts, counts
their words and hands the counts to tensorflow-text's learner, which looks
for the count threshold that gives the vocabulary size asked for by
bisection: every try learns a whole vocabulary. On 25,000 movie reviews
that took about 8 minutes without a word of output. `learn_word_piece`
runs the same steps with the same functions (keras-hub's `pretokenize`,
tensorflow-text's `count_words`, `learn_with_thresh` and its helpers), and
reports each step to a `progress(stage, done, total)` callback (such as
`tfzoo.console.ProgressBars(UNITS)`): the texts
whose words are counted, then the thresholds tried, out of at most
`floor(log2(upper - lower)) + 2`. Its vocabulary is keras-hub's, token for token
(tested).
"""

import collections
import math

import tensorflow as tf
from keras_hub.src.tokenizers.word_piece_tokenizer import pretokenize
from tensorflow_text.tools.wordpiece_vocab import (
    wordpiece_tokenizer_learner_lib as learner,
)

COUNTING = "counting words"
LEARNING = "learning the vocabulary"
UNITS = {COUNTING: "texts", LEARNING: "tries"}  # for console.ProgressBars
_BATCH = 1000  # texts pretokenized at a time


def learn_word_piece(texts, vocabulary_size, reserved_tokens,
                     progress=None):
    """An uncased WordPiece vocabulary learnt from `texts`, as keras-hub's
    `compute_word_piece_vocabulary(..., lowercase=True,
    strip_accents=True)` learns it.

    Args:
        texts: list of str.
        vocabulary_size: int, tokens wanted, `reserved_tokens` included
            (the learner stops within 5% below it).
        reserved_tokens: list of str, first in the vocabulary.
        progress: callable `progress(stage, done, total)` or None: called
            with `COUNTING` and the texts counted so far out of all, then
            with `LEARNING` and the thresholds tried out of the most the
            search can take; it may stop sooner, and its last call has
            `done == total`, the thresholds tried.

    Returns:
        list of str, the vocabulary.
    """
    progress = progress or (lambda stage, done, total: None)
    counts = collections.Counter()
    progress(COUNTING, 0, len(texts))
    for start in range(0, len(texts), _BATCH):
        batch = tf.constant(texts[start:start + _BATCH], tf.string)
        words = pretokenize(batch, lowercase=True, strip_accents=True,
                            split=True, split_on_cjk=True)
        if tf.size(words.flat_values) > 0:
            counts.update(learner.count_words([words]))
        progress(COUNTING, min(start + _BATCH, len(texts)), len(texts))
    vocabulary = _learn(counts, vocabulary_size, reserved_tokens, progress)
    return vocabulary[:vocabulary_size]


def _learn(word_counts, vocabulary_size, reserved_tokens, progress):
    """tensorflow-text's `learn` with its defaults and keras-hub's joiner,
    the bisection written out so that each try can be reported."""
    params = learner.Params(
        upper_thresh=10000000, lower_thresh=10, num_iterations=4,
        max_input_tokens=5000000, max_token_length=50, max_unique_chars=1000,
        vocab_size=vocabulary_size, slack_ratio=0.05,
        include_joiner_token=True, joiner="##",
        reserved_tokens=list(reserved_tokens))
    word_counts = word_counts.items()
    upper, lower = learner.get_search_threshs(
        word_counts, params.upper_thresh, params.lower_thresh)
    all_counts = learner.get_input_words(
        word_counts, params.reserved_tokens, params.max_token_length)
    allowed = learner.get_allowed_chars(all_counts, params.max_unique_chars)
    counts = learner.filter_input_words(all_counts, allowed,
                                        params.max_input_tokens)
    most_tries = math.floor(math.log2(max(upper - lower, 1))) + 2
    tries = 0
    progress(LEARNING, tries, most_tries)
    while True:  # learner.learn_binary_search, one try per turn
        threshold = (upper + lower) // 2
        vocabulary = learner.learn_with_thresh(counts, threshold, params)
        tries += 1
        size = len(vocabulary)
        slack = max(params.slack_ratio * params.vocab_size, 0)
        within_slack = (size <= params.vocab_size
                        and params.vocab_size - size <= slack)
        if within_slack or lower >= upper or threshold <= 1:
            progress(LEARNING, tries, tries)
            return vocabulary
        progress(LEARNING, min(tries, most_tries - 1), most_tries)
        if size > params.vocab_size:
            lower = threshold + 1
        else:
            upper = threshold - 1
