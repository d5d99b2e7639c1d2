"""A byte-level BPE tokenizer (GPT-2, Llama 3, SmolLM) in the TensorFlow graph.

`BytePairTokenizer` reads the vocabulary and merges of a pretrained model
(`from_gguf`, `from_tokenizer_json`) and gives the same ids as Hugging Face
`tokenizers` with TensorFlow and tensorflow-text ops only, so it runs in
`tf.data`, in `tf.function` and inside an exported SavedModel. Its lookup
tables are static (keras-hub's `BytePairTokenizer` keeps a mutable cache,
which a SavedModel cannot hold).

How a string becomes ids:

1. Special tokens (`<|im_start|>`, ...) are cut out of the text first; each
   is one id.
2. The rest is pre-tokenized into words by the model's regular expression
   (`PRE_TOKENIZERS`).
3. Each word's UTF-8 bytes are merged pairwise, the pair of lowest rank in
   the merges list first (leftmost first among equals), until no pair of
   the word is in the list.

Pre-tokenizer regexes use `(?!\\S)`, a look-ahead that RE2 (tensorflow-text's
regex engine) does not have. It is emulated exactly by splitting the text in
two passes; see `tfzoo.text.byte_level`.
"""

import keras
import tensorflow as tf
from tensorflow_text.python.ops import regex_split_ops as _regex_split_ops

from tfzoo.text.byte_level import (BYTE_STRINGS, PRE_TOKENIZERS, SPLITS,
                                   bytes_to_unicode, re2_literal,
                                   token_bytes)


@keras.saving.register_keras_serializable(package="tfzoo")
class BytePairTokenizer(keras.layers.Layer):
    """Byte-level BPE (GPT-2, Llama 3, SmolLM) with static tables only.

    Gives the ids Hugging Face `tokenizers` gives for the same vocabulary,
    merges and pre-tokenizer (no start or end token is added), and
    `detokenize(tokenize(s)) == s` for every valid UTF-8 `s`, but for
    characters whose bytes have no token (`unknown_bytes`), which are left
    out, as Hugging Face leaves them out.

    Args:
        vocabulary: list of str, the tokens in id order, written in GPT-2's
            byte characters (`bytes_to_unicode`: "Ġthe" is " the"); special
            tokens as their text.
        merges: list of str, "a b" (two tokens and a space), lowest rank
            (applied first) first.
        pre_tokenizer: str, one of `PRE_TOKENIZERS`: `"gpt2"`, `"smollm"`,
            `"llama-bpe"`.
        special_tokens: list of str, tokens of `vocabulary` that are found
            in the text before anything else and are always one id (the
            longest first where two start at one place).
        ignore_merges: bool, a word that is a token as a whole is that
            token without merging (Llama 3's tokenizers do this).
        **kwargs: standard `keras.layers.Layer` arguments.

    Attributes:
        unknown_bytes: bytes, the byte values without a token (SmolLM2 has
            none for 21 that UTF-8 text rarely or never holds).

    Raises:
        ValueError: an unknown pre-tokenizer; a special token or a merge
            part that is not in the vocabulary; a vocabulary without tokens
            for the printable ASCII characters (not byte-level).

    Example:
    >>> tokenizer = BytePairTokenizer.from_gguf(
    ...     "SmolLM2-135M-Instruct.Q4_1.gguf")
    >>> tokenizer.tokenize("<|im_start|>user\\nHi!")  # int32, shape (5,)
    <tf.Tensor: shape=(5,), dtype=int32, numpy=array([1, 4093, 198, 26843, 17],
    dtype=int32)>
    >>> tokenizer.tokenize(["Hi", "to be"])  # ragged, shape (2, None)
    <tf.RaggedTensor [[26843], [1141, 325]]>
    >>> tokenizer.detokenize([1, 4093]).numpy().decode()
    '<|im_start|>user'
    """

    def __init__(self, vocabulary, merges, pre_tokenizer="gpt2",
                 special_tokens=(), ignore_merges=False, **kwargs):
        kwargs.setdefault("trainable", False)
        kwargs.setdefault("dtype", "int32")
        super().__init__(**kwargs)
        if pre_tokenizer not in PRE_TOKENIZERS:
            raise ValueError(f"unknown pre-tokenizer {pre_tokenizer!r}; "
                             f"supported: {', '.join(PRE_TOKENIZERS)}")
        self.vocabulary = [str(token) for token in vocabulary]
        self.merges = [str(merge) for merge in merges]
        self.pre_tokenizer = pre_tokenizer
        self.special_tokens = [str(token) for token in special_tokens]
        self.ignore_merges = bool(ignore_merges)
        self._ids = {}
        for i, token in enumerate(self.vocabulary):
            self._ids.setdefault(token, i)
        missing = [t for t in self.special_tokens if t not in self._ids]
        if missing:
            raise ValueError(f"special tokens not in the vocabulary: "
                             f"{missing[:5]}")
        if any(c in t for t in self.special_tokens for c in "\x00\x01"):
            raise ValueError("special tokens with U+0000 or U+0001 are not "
                             "supported")
        self._build_tables()

    def _build_tables(self):
        """The static tables the graph reads: bytes of each id, ids of the
        256 bytes, the merges by rank, the special tokens."""
        size = len(self.vocabulary)
        raw = [token_bytes(token) for token in self.vocabulary]
        specials = set(self.special_tokens)
        # What each id writes back: its bytes; a special token its text.
        self._id_to_bytes = tf.constant(
            [token.encode("utf-8") if token in specials or data is None
             else data for token, data in zip(self.vocabulary, raw)] + [
                "\ufffd".encode("utf-8")])  # for ids out of range
        # Bytes without a token (-1) are left out, as Hugging Face leaves
        # them out when the model has no unknown token.
        byte_ids = [self._ids.get(char, -1)
                    for _, char in sorted(bytes_to_unicode().items())]
        if min(byte_ids[ord("!"):ord("~") + 1]) < 0:
            raise ValueError("the vocabulary lacks tokens for printable "
                             "ASCII characters: not byte-level BPE")
        self.unknown_bytes = bytes(b for b in range(256) if byte_ids[b] < 0)
        self._byte_ids = tf.constant(byte_ids, tf.int32)

        keys, results = [], []
        seen = set()
        for rank, merge in enumerate(self.merges):
            parts = merge.split(" ")
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"merge {rank} is not two tokens and a "
                                 f"space: {merge!r}")
            pair = [self._ids.get(part) for part in parts]
            result = self._ids.get(parts[0] + parts[1])
            if None in pair or result is None:
                raise ValueError(f"merge {rank} ({merge!r}) names a token "
                                 "that is not in the vocabulary")
            key = pair[0] * size + pair[1]
            if key not in seen:  # a repeated pair keeps its first rank
                seen.add(key)
                keys.append(key)
                results.append(result)
        self._num_merges = len(keys)
        # (Each table has one entry more, so that none is empty.)
        self._merge_results = tf.constant(results + [0], tf.int32)
        # Pair of ids (left * vocabulary size + right) -> rank; pairs that
        # do not merge get the rank `_num_merges`.
        self._merge_ranks = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys + [-1], tf.int64),
                tf.range(len(keys) + 1, dtype=tf.int32)),
            default_value=self._num_merges)

        # Bytes of a whole word -> its id, for `ignore_merges`.
        whole = {}
        for i, data in enumerate(raw):
            if data is not None:
                whole.setdefault(data, i)
        self._word_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(whole) + [b""], tf.string),
                tf.constant(list(whole.values()) + [-1], tf.int32)),
            default_value=-1)

        self._special_pattern = "|".join(
            re2_literal(token) for token in
            sorted(self.special_tokens, key=len, reverse=True))
        self._special_ids = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(self.special_tokens + [""], tf.string),
                tf.constant([self._ids[t] for t in self.special_tokens] + [-1],
                            tf.int32)),
            default_value=-1)

    @classmethod
    def from_gguf(cls, gguf_file, **kwargs):
        """The tokenizer of a GGUF model file (a `gguf.GGUFReader` or a
        path), read by `byte_pair_files.read_gguf_tokenizer` (which names
        what is refused); `kwargs` go to the constructor. No start token is
        added (see the file's `tokenizer.ggml.add_bos_token`).
        """
        from tfzoo.text.byte_pair_files import read_gguf_tokenizer

        return cls(**read_gguf_tokenizer(gguf_file), **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path, **kwargs):
        """The tokenizer of a Hugging Face `tokenizer.json` (a path or its
        dict), read by `byte_pair_files.read_tokenizer_json` (which names
        what is refused); `kwargs` go to the constructor. Its
        post-processor (such as Llama 3's start token) is not applied.
        """
        from tfzoo.text.byte_pair_files import read_tokenizer_json

        return cls(**read_tokenizer_json(path), **kwargs)

    def vocabulary_size(self):
        """Number of ids, special tokens included."""
        return len(self.vocabulary)

    def id_to_token(self, token_id):
        """The vocabulary entry of `token_id` (in byte characters: "Ġthe")."""
        if not 0 <= token_id < len(self.vocabulary):
            raise ValueError(f"id {token_id} is not in 0 to "
                             f"{len(self.vocabulary) - 1}")
        return self.vocabulary[token_id]

    def token_to_id(self, token):
        """The id of vocabulary entry `token` (in byte characters)."""
        if token not in self._ids:
            raise ValueError(f"token {token!r} is not in the vocabulary")
        return self._ids[token]

    def tokenize(self, inputs):
        """Strings -> token ids, in the graph (tf.data, tf.function).

        Args:
            inputs: `tf.string` tensor of any rank (or Python str, list).

        Returns:
            int32 ids: for a scalar string a dense tensor of shape
            `(tokens,)`; otherwise a `tf.RaggedTensor` of shape
            `inputs.shape + (None,)`.

        Example:
        >>> tokenizer.tokenize(["to be", ""])
        <tf.RaggedTensor [[1141, 325], []]>
        """
        inputs = tf.convert_to_tensor(inputs, tf.string)
        if inputs.shape.rank == 0:
            return self._tokenize_batch(inputs[None])[0]
        ids = tf.RaggedTensor.from_row_splits(
            *self._tokenize_batch(tf.reshape(inputs, [-1])), validate=False)
        for axis in reversed(range(1, inputs.shape.rank)):
            ids = tf.RaggedTensor.from_uniform_row_length(
                ids, tf.shape(inputs, out_type=tf.int64)[axis])
        return ids

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)],
                 autograph=False)
    def _tokenize_batch(self, texts):
        """1-D `tf.string` -> the ids of all texts, one after the other,
        and row splits (where each text's ids start; int64, texts + 1).

        The text is cut into pieces (special tokens and the text between
        them), then words; each is known by where it starts in `all_bytes`,
        the bytes of all texts. tensorflow-text's regex split ends a string
        at its first NUL character, so the regexes read the text with
        U+0001 (a character of the same class) for U+0000, and the merges
        read the bytes from `all_bytes`.
        """
        all_bytes = tf.io.decode_raw(tf.strings.reduce_join(texts), tf.uint8)
        words = tf.strings.regex_replace(texts, r"\x00", "\x01")
        starts = tf.cumsum(tf.cast(tf.strings.length(texts), tf.int64),
                           exclusive=True)
        splits = tf.range(tf.size(texts, out_type=tf.int64) + 1)
        special_ids = tf.fill(tf.shape(texts), -1)
        patterns = SPLITS[self.pre_tokenizer]
        if self.special_tokens:
            patterns = (self._special_pattern,) + patterns
        for i, pattern in enumerate(patterns):
            words, starts, inner = _split(words, starts, pattern)
            splits = tf.gather(inner, splits)
            if self.special_tokens and i == 0:
                # A special token goes on as one word, "a" to the regexes.
                special_ids = self._special_ids.lookup(words)
                words = tf.where(special_ids >= 0, "a", words)
            else:
                special_ids = tf.repeat(special_ids, inner[1:] - inner[:-1])
        ids, inner = self._merge_words(
            all_bytes, starts, tf.strings.length(words), special_ids)
        return ids, tf.gather(inner, splits)

    def _merge_words(self, all_bytes, starts, lengths, word_ids):
        """Words (where each starts in `all_bytes`, int64; its length in
        bytes, at least 1; an id that stands for the whole word, or -1) ->
        all the ids, one word after the other, and row splits (words + 1).

        Every word starts as its bytes' ids; in each round, every word that
        still has a pair in the merges list merges its lowest-ranked pair
        (the leftmost of equals); a word without one is done and leaves the
        rounds, so long words cost only themselves.
        """
        rows = _row_ids(lengths)
        data = tf.gather(all_bytes, tf.gather(starts, rows) + tf.cast(
            _positions_in_rows(rows, lengths), tf.int64))
        symbols = tf.gather(self._byte_ids, tf.cast(data, tf.int32))
        if self.ignore_merges:
            words = tf.strings.unsorted_segment_join(
                tf.gather(BYTE_STRINGS, tf.cast(data, tf.int32)), rows,
                tf.size(lengths))
            word_ids = tf.where(word_ids >= 0, word_ids,
                                self._word_ids.lookup(words))
        # A word with an id of its own is that id (its first symbol becomes
        # it, the others go); bytes without a token go.
        whole = tf.gather(word_ids >= 0, rows)
        symbols = tf.where(whole, tf.gather(word_ids, rows), symbols)
        keep = (~whole | tf.equal(_positions_in_rows(rows, lengths), 0)) & (
            symbols >= 0)
        symbols = tf.boolean_mask(symbols, keep)
        lengths = tf.math.unsorted_segment_sum(tf.cast(keep, tf.int32), rows,
                                               tf.size(lengths))
        if self._num_merges > 0:
            symbols, lengths = self._merge_loop(symbols, lengths)
        return symbols, tf.pad(tf.cumsum(tf.cast(lengths, tf.int64)), [[1, 0]])

    def _merge_loop(self, symbols, lengths):
        """The merge rounds of `_merge_words`: symbols and lengths of the
        words -> the same, merged."""
        size = tf.constant(len(self.vocabulary), tf.int64)
        no_merge = self._num_merges

        def merge_round(step, symbols, lengths, index, done):
            count = tf.size(symbols, out_type=tf.int64)
            rows = _row_ids(lengths)
            pair_rows = rows[:-1]
            ranks = self._merge_ranks.lookup(
                tf.cast(symbols[:-1], tf.int64) * size
                + tf.cast(symbols[1:], tf.int64))
            ranks = tf.where(tf.equal(pair_rows, rows[1:]), ranks, no_merge)
            # One number per pair that orders by rank, then position.
            order = (tf.cast(ranks, tf.int64) * count
                     + tf.range(count - 1, dtype=tf.int64))
            best = tf.math.unsorted_segment_min(order, pair_rows,
                                                tf.size(lengths))
            finished = best >= no_merge * count
            chosen = tf.equal(order, tf.gather(best, pair_rows)) & (
                ranks < no_merge)
            merged = tf.where(
                tf.concat([chosen, [False]], 0),
                tf.gather(self._merge_results,
                          tf.concat([ranks, [no_merge]], 0)),
                symbols)
            symbol_finished = tf.gather(finished, rows)
            done = [array.write(step, tf.boolean_mask(value, mask))
                    for array, value, mask in zip(
                        done, (symbols, lengths, index),
                        (symbol_finished, finished, finished))]
            keep = ~symbol_finished & ~tf.concat([[False], chosen], 0)
            return (step + 1, tf.boolean_mask(merged, keep),
                    tf.boolean_mask(lengths - 1, ~finished),
                    tf.boolean_mask(index, ~finished), done)

        done = [tf.TensorArray(tf.int32, size=0, dynamic_size=True,
                               infer_shape=False, element_shape=[None])
                for _ in range(3)]
        _, _, _, _, done = tf.while_loop(
            lambda step, symbols, *_: tf.size(symbols) > 0, merge_round,
            (0, symbols, lengths, tf.range(tf.size(lengths)), done))
        # The words in the order they were done -> in their own order.
        symbols, done_lengths, index = (array.concat() for array in done)
        order = tf.math.invert_permutation(index)
        lengths = tf.gather(done_lengths, order)
        rows = _row_ids(lengths)
        starts = tf.gather(tf.cumsum(done_lengths, exclusive=True), order)
        return tf.gather(symbols, tf.gather(starts, rows)
                         + _positions_in_rows(rows, lengths)), lengths

    def detokenize(self, inputs):
        """Token ids -> strings (special tokens as their text).

        Args:
            inputs: int ids, dense or ragged, tokens in the last axis.

        Returns:
            `tf.string` of the shape of `inputs` without its last axis:
            the tokens' bytes joined, always valid UTF-8 (bytes that are
            not, from ids that split a character, and ids outside the
            vocabulary come back as U+FFFD).

        Example:
        >>> tokenizer.detokenize([[1141, 325], [1, 4093]])
        <tf.Tensor: shape=(2,), dtype=string, numpy=array([b'to be',
        b'<|im_start|>user'], dtype=object)>
        """
        size = len(self.vocabulary)

        def to_bytes(ids):
            ids = tf.cast(ids, tf.int32)
            valid = (ids >= 0) & (ids < size)
            return tf.gather(self._id_to_bytes, tf.where(valid, ids, size))

        pieces = tf.ragged.map_flat_values(to_bytes, inputs)
        return tf.strings.unicode_transcode(
            tf.strings.reduce_join(pieces, axis=-1), "UTF-8", "UTF-8",
            errors="replace", replacement_char=0xFFFD)

    def call(self, inputs):
        return self.tokenize(inputs)

    def get_config(self):
        config = super().get_config()
        config.update({"vocabulary": self.vocabulary, "merges": self.merges,
                       "pre_tokenizer": self.pre_tokenizer,
                       "special_tokens": self.special_tokens,
                       "ignore_merges": self.ignore_merges})
        return config


def _split(texts, starts, pattern):
    """Splits each of `texts` (1-D) where `pattern` (RE2) matches, keeping
    the matches and the text between them.

    Returns:
        The pieces (1-D), where each starts (`starts` are the texts'), and
        the row splits of the texts' pieces (int64, texts + 1).
    """
    # The op itself: tensorflow-text's wrapper adds some 300 graph nodes of
    # checks to each call.
    pattern = f"({pattern})"
    pieces, begins, _, splits = (
        _regex_split_ops.gen_regex_split_ops.regex_split_with_offsets(
            texts, pattern, pattern))
    return pieces, begins + tf.repeat(starts, splits[1:] - splits[:-1]), splits


def _row_ids(lengths):
    """The row of each value from the rows' lengths: [2, 0, 1] -> [0, 0, 2]."""
    return tf.repeat(tf.range(tf.size(lengths)), lengths)


def _positions_in_rows(rows, lengths):
    """Each value's position in its row (`rows` from `_row_ids`)."""
    return (tf.range(tf.size(rows))
            - tf.gather(tf.cumsum(lengths, exclusive=True), rows))
