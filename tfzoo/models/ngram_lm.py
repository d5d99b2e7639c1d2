"""An n-gram language model with interpolated modified Kneser-Ney smoothing.

The textbook's first language model: the chain rule
`P(w_1..w_N) = prod_t P(w_t | w_1..w_{t-1})`, with each factor
conditioned on the previous `order - 1` tokens only. Counting n-grams
gives those probabilities; smoothing gives unseen n-grams some of the
mass. Interpolated modified Kneser-Ney (Chen & Goodman, "An Empirical
Study of Smoothing Techniques for Language Modeling", 1998, section 3.5):

    P_m(w | h) = max(c_m(hw) - D_m(c_m(hw)), 0) / c_m(h.)
                 + gamma_m(h) * P_{m-1}(w | h')

- `h` is the context of `m - 1` tokens, `h'` the same without its first
  token, and `P_0(w) = 1 / V` (uniform over the vocabulary, so that no
  token ever gets probability 0);
- `c_m` is the count of the n-gram at the highest order `m = order`, and
  its continuation count at lower orders: the number of distinct tokens
  seen before it (Kneser-Ney's key idea);
- three discounts per order, from its count-of-counts `n_r` (the number of
  n-grams of count `r`): `Y = n_1 / (n_1 + 2 n_2)`,
  `D_1 = 1 - 2Y n_2/n_1`, `D_2 = 2 - 3Y n_3/n_2`, `D_3+ = 3 - 4Y n_4/n_3`;
- `gamma_m(h) = (D_1 N_1(h.) + D_2 N_2(h.) + D_3+ N_3+(h.)) / c_m(h.)`
  gives the discounted mass to the lower order, so that every
  distribution sums to 1; a context never seen at order `m`
  (`c_m(h.) = 0`) backs off to `P_{m-1}` whole.

A text shorter than the order has no n-grams of the orders above its
length: those orders stay empty and every context backs off through them,
and the longest order that has n-grams (`min(order, len(text))`) counts
them as the highest order does (raw counts, not continuation counts), so
that a 30-gram model of a 19-token text is its 19-gram model.

`smoothing="add_k"` is the simpler option: `(c(hw) + k) / (c(h.) + kV)`
with the longest context `h` (of at most `order - 1` tokens) seen in
training; a token whose contexts were all unseen gets `1 / V`.

Counting is vectorised with numpy: an n-gram's id comes from its context's
id and its last token (`key = context_id * V + token`), one `np.unique`
per order, so Tiny Shakespeare (1M characters) counts in seconds.

The model is saved as two files (no pickle): `ngram.json` (order,
vocabulary size, smoothing, discounts) and `ngram.npz` (per order `m`:
`keys_m`, the sorted n-gram keys; `numerators_m`, the discounted counts
`max(c - D, 0)` (add-k: the counts); `totals_m` and `gammas_m`, per
context id).
"""

import json
import os

import numpy as np

from tfzoo.choices import NGRAM_SMOOTHINGS as SMOOTHINGS

MIN_DISCOUNT = 0.01  # see modified_kneser_ney_discounts
CONFIG_FILE = "ngram.json"
ARRAYS_FILE = "ngram.npz"


class NGramLM:
    """A counted n-gram language model over token ids.

    Args:
        order: int, `n` (1 to 9 and more): each token is conditioned on the
            `n - 1` tokens before it.
        vocabulary_size: int, `V`, the tokenizer's vocabulary size.
        smoothing: `"kneser_ney"` (interpolated modified Kneser-Ney,
            default) or `"add_k"`.
        k: float, add-k's pseudo-count (default 1: Laplace).

    Raises:
        ValueError: an order below 1, an unknown smoothing, `k <= 0`.

    Example:
    >>> model = NGramLM(order=5, vocabulary_size=65).fit(train_ids)
    >>> model.log_probabilities(validation_ids).mean()  # nats per token
    -1.6
    >>> model.next_token_probabilities(validation_ids[-4:]).sum()
    1.0
    """

    def __init__(self, order, vocabulary_size, smoothing="kneser_ney",
                 k=1.0):
        if order < 1:
            raise ValueError(f"the order must be at least 1, got {order}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"unknown smoothing {smoothing!r}; choose "
                             f"{' or '.join(SMOOTHINGS)}")
        if k <= 0:
            raise ValueError(f"k must be above 0, got {k}")
        self.order = int(order)
        self.vocabulary_size = int(vocabulary_size)
        self.smoothing = smoothing
        self.k = float(k)
        self.discounts = []  # per order: (D_1, D_2, D_3+)
        self.seen_tokens = 0  # distinct tokens in the training text
        self.tables = []  # per order: keys, numerators, totals, gammas

    # === Counting ===

    def fit(self, token_ids):
        """Counts the n-grams of a 1-D array of token ids; returns `self`.

        Raises:
            ValueError: an id outside `[0, vocabulary_size)`, or no tokens.
        """
        tokens = np.asarray(token_ids, np.int64)
        if tokens.ndim != 1 or len(tokens) == 0:
            raise ValueError("fit takes a non-empty 1-D array of token ids")
        self._check_range(tokens)
        # Orders above the text's length have no n-grams; the longest that
        # has some is the highest order counted (see the module docstring).
        top = min(self.order, len(tokens))
        # ids[m - 1][t]: the id of the m-gram ending at position t (-1
        # before the text has m tokens); keys[m - 1]: the sorted keys.
        ids, keys = [tokens], [np.arange(self.vocabulary_size)]
        for m in range(2, top + 1):
            context = np.full(len(tokens), -1, np.int64)
            context[1:] = ids[-1][:-1]
            valid = context >= 0
            gram_keys = context * self.vocabulary_size + tokens
            unique, inverse = np.unique(gram_keys[valid], return_inverse=True)
            gram_ids = np.full(len(tokens), -1, np.int64)
            gram_ids[valid] = inverse
            ids.append(gram_ids)
            keys.append(unique)
        self.discounts, self.tables = [], []
        self.seen_tokens = len(np.unique(tokens))
        for m in range(1, top + 1):
            counts = np.bincount(ids[m - 1][ids[m - 1] >= 0],
                                 minlength=len(keys[m - 1])).astype(float)
            if self.smoothing == "kneser_ney" and m < top:
                counts = self._continuation_counts(ids[m - 1], ids[m],
                                                   len(keys[m - 1]))
            self.tables.append(self._table(m, keys[m - 1], counts))
        for m in range(top + 1, self.order + 1):  # no n-grams: back off
            self.discounts.append((0.0, 0.0, 0.0))
            self.tables.append((np.zeros(0, np.int64), np.zeros(0),
                                np.zeros(1), np.zeros(1)))
        return self

    @staticmethod
    def _continuation_counts(gram_ids, longer_ids, num_grams):
        """For each m-gram, the number of distinct (m+1)-grams that end
        with it: `N_1+(. g)`."""
        _, first = np.unique(longer_ids, return_index=True)
        first = first[longer_ids[first] >= 0]  # leave out "no gram" (-1)
        return np.bincount(gram_ids[first], minlength=num_grams).astype(float)

    def _table(self, m, keys, counts):
        """The arrays that `_probabilities` reads for order `m`."""
        contexts = keys // self.vocabulary_size if m > 1 else np.zeros_like(
            keys)
        num_contexts = contexts.max() + 1 if len(contexts) else 1
        totals = np.bincount(contexts, weights=counts, minlength=num_contexts)
        if self.smoothing == "add_k":
            self.discounts.append((0.0, 0.0, 0.0))
            return keys, counts, totals, np.zeros(num_contexts)
        d1, d2, d3 = modified_kneser_ney_discounts(counts)
        self.discounts.append((d1, d2, d3))
        discount = np.select([counts == 1, counts == 2, counts >= 3],
                             [d1, d2, d3], 0.0)
        kept = np.maximum(counts - discount, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            gammas = np.bincount(contexts, weights=counts - kept,
                                 minlength=num_contexts) / totals
        return keys, kept, totals, np.nan_to_num(gammas)

    # === Probabilities ===

    def _lookup(self, m, context_ids, tokens):
        """For each `(context id, token)`: the n-gram's discounted count
        in order `m` (0 if unseen) and its context's total and gamma (0 if
        the context was never seen at order `m`); and the n-gram's id (-1
        if unseen)."""
        keys, numerators, totals, gammas = self.tables[m - 1]
        if m == 1:
            ids = tokens
            context_ids = np.zeros_like(tokens)
        elif len(keys) == 0:
            ids = np.full(len(tokens), -1, np.int64)
        else:
            wanted = context_ids * self.vocabulary_size + tokens
            found = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
            ids = np.where((context_ids >= 0) & (keys[found] == wanted),
                           found, -1)
        known = (context_ids >= 0) & (context_ids < len(totals))
        safe = np.where(known, context_ids, 0)
        counts = np.zeros(len(tokens))  # an order may have no n-grams
        counts[ids >= 0] = numerators[ids[ids >= 0]]
        return (counts, np.where(known, totals[safe], 0.0),
                np.where(known, gammas[safe], 0.0), ids)

    def _interpolate(self, probability, counts, totals, gammas):
        """One order's step of the recursion (see the module docstring):
        positions whose context this order never saw keep `probability`."""
        size = self.vocabulary_size
        with np.errstate(invalid="ignore", divide="ignore"):
            if self.smoothing == "add_k":  # the longest seen context
                step = (counts + self.k) / (totals + self.k * size)
            else:
                step = counts / totals + gammas * probability
        return np.where(totals > 0, step, probability)

    def log_probabilities(self, token_ids):
        """`log P(w_t | the n-1 tokens before it)` for every position
        `t >= 1` of a text, in nats: a float64 array of `len - 1` values
        (the first token has no context and is not scored; near the
        start a token is conditioned on the tokens there are).

        Raises:
            ValueError: the model has not been fit; an id outside
                `[0, vocabulary_size)`.
        """
        self._check_fitted()
        tokens = np.asarray(token_ids, np.int64)
        if len(tokens) < 2:
            return np.zeros(0)
        self._check_range(tokens)
        probabilities = self._probabilities(tokens)
        return np.log(probabilities[1:])

    def _probabilities(self, tokens):
        """`P(w_t | history)` at every position, vectorised over them."""
        probability = np.full(len(tokens), 1.0 / self.vocabulary_size)
        context_ids = np.zeros(len(tokens), np.int64)
        for m in range(1, self.order + 1):
            if m > 1:  # the (m-1)-gram that ends just before t
                context_ids = np.full(len(tokens), -1, np.int64)
                context_ids[1:] = gram_ids[:-1]
            counts, totals, gammas, gram_ids = self._lookup(m, context_ids,
                                                            tokens)
            probability = self._interpolate(probability, counts, totals,
                                            gammas)
        return probability

    def next_token_probabilities(self, context_ids):
        """`P(. | context)` over the whole vocabulary: a float64 array of
        `vocabulary_size` values that sums to 1. Only the last
        `order - 1` tokens of `context_ids` (any length) count.

        Raises:
            ValueError: the model has not been fit.
        """
        self._check_fitted()
        context = list(np.asarray(context_ids, np.int64))
        size = self.vocabulary_size
        everything = np.arange(size)
        probability = np.full(size, 1.0 / size)
        for m in range(1, min(self.order, len(context) + 1) + 1):
            # The context of order m: the last m - 1 tokens (none for m=1).
            context_id = self._gram_id(context[len(context) - m + 1:])
            counts, totals, gammas, _ = self._lookup(
                m, np.full(size, context_id), everything)
            probability = self._interpolate(probability, counts, totals,
                                            gammas)
        return probability

    def _check_range(self, tokens):
        if tokens.min() < 0 or tokens.max() >= self.vocabulary_size:
            raise ValueError(f"token ids must be in [0, "
                             f"{self.vocabulary_size})")

    def _check_fitted(self):
        if len(self.tables) != self.order:
            raise ValueError("the n-gram model has not been fit: call fit "
                             "(or load) first")

    def _gram_id(self, tokens):
        """The id of the n-gram `tokens` in order `len(tokens)`'s table
        (0 for no tokens), or -1 if it was never seen."""
        if not tokens:
            return 0
        gram_id = int(tokens[0])
        for m in range(2, len(tokens) + 1):
            keys = self.tables[m - 1][0]
            wanted = gram_id * self.vocabulary_size + int(tokens[m - 1])
            found = int(np.searchsorted(keys, wanted))
            if found >= len(keys) or keys[found] != wanted:
                return -1
            gram_id = found
        return gram_id

    # === Saving ===

    def get_config(self):
        return {"order": self.order, "vocabulary_size": self.vocabulary_size,
                "smoothing": self.smoothing, "k": self.k}

    def num_ngrams(self):
        """The distinct n-grams counted, of every order."""
        return sum(len(keys) for keys, *_ in self.tables[1:]) + int(
            self.seen_tokens)

    def save(self, folder):
        """Writes `ngram.json`, then `ngram.npz` (each written beside and
        renamed, so that a crash never leaves half of one; the `.npz`
        last)."""
        arrays = {}
        for m, (keys, numerators, totals, gammas) in enumerate(
                self.tables, start=1):
            arrays.update({f"keys_{m}": keys, f"numerators_{m}": numerators,
                           f"totals_{m}": totals, f"gammas_{m}": gammas})
        config_path = os.path.join(folder, CONFIG_FILE)
        with open(config_path + ".tmp", "w") as f:
            json.dump({**self.get_config(),
                       "discounts": [list(d) for d in self.discounts],
                       "seen_tokens": self.seen_tokens}, f, indent=1)
        os.replace(config_path + ".tmp", config_path)
        arrays_path = os.path.join(folder, ARRAYS_FILE)
        with open(arrays_path + ".tmp", "wb") as f:
            np.savez(f, **arrays)
        os.replace(arrays_path + ".tmp", arrays_path)

    @classmethod
    def load(cls, folder):
        """The model that `save` wrote into `folder`."""
        with open(os.path.join(folder, CONFIG_FILE)) as f:
            config = json.load(f)
        discounts = config.pop("discounts")
        seen_tokens = config.pop("seen_tokens")
        model = cls(**config)
        model.seen_tokens = seen_tokens
        model.discounts = [tuple(d) for d in discounts]
        with np.load(os.path.join(folder, ARRAYS_FILE)) as arrays:
            model.tables = [tuple(arrays[f"{name}_{m}"] for name in (
                "keys", "numerators", "totals", "gammas"))
                for m in range(1, model.order + 1)]
        return model


def modified_kneser_ney_discounts(counts):
    """`(D_1, D_2, D_3+)` from the count-of-counts of `counts` (Chen &
    Goodman 1998, eq. 26), each kept within `[MIN_DISCOUNT, r]`: never
    above the count it applies to, and never 0, so that every context
    leaves some probability to the lower orders and no token gets 0 (the
    formula can give 0 or less on small or odd texts, and a missing `n_r`
    falls back to `r / 2`)."""
    n1, n2, n3, n4 = (np.sum(counts == r) for r in (1, 2, 3, 4))
    y = n1 / (n1 + 2 * n2) if n1 + 2 * n2 > 0 else 0.5
    d1 = 1 - 2 * y * n2 / n1 if n1 > 0 else 0.5
    d2 = 2 - 3 * y * n3 / n2 if n2 > 0 else 1.0
    d3 = 3 - 4 * y * n4 / n3 if n3 > 0 else 1.5
    return tuple(float(np.clip(d, MIN_DISCOUNT, r))
                 for r, d in ((1, d1), (2, d2), (3, d3)))
