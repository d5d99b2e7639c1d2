"""The n-gram baseline on Tiny Shakespeare: validation loss by order.

    python bench/ngram.py [--data-dir ../shared/data] [--orders 1 2 ... 9]

Counts interpolated modified Kneser-Ney n-gram models (`tfzoo.models.
NGramLM`) on the first 90% of Tiny Shakespeare's characters (nanoGPT's
split) and prints, per order, the validation loss on the last 10%, in
nats per token and bits per character, with the counting time:

- over characters (65 ids; nats per token = nats per character), and
- over SentencePiece subwords (tfzoo's default vocabulary of 2,000),
  where bits per character divide the same total by the characters.

The neural models' figures to compare with are in the README's model-zoo
table (`bench/shakespeare_char.py`).
"""

import argparse
import math
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfzoo.data import load_text_splits  # noqa: E402
from tfzoo.models.ngram_lm import NGramLM  # noqa: E402
from tfzoo.text.encoding import decode, encode  # noqa: E402
from tfzoo.text.kinds import build_tokenizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get(
        "TFZOO_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..",
                                       "shared", "data")))
    parser.add_argument("--orders", type=int, nargs="+",
                        default=list(range(1, 10)))
    parser.add_argument("--vocab-size", type=int, default=2000)
    args = parser.parse_args()
    train, validation = load_text_splits(
        os.path.join("tiny_shakespeare", "input.txt"), args.data_dir)
    print(f"Tiny Shakespeare: {len(train):,} training and "
          f"{len(validation):,} validation characters")
    for kind in ("char", "subword"):
        tokenizer = build_tokenizer(kind, train, args.vocab_size)
        train_ids = encode(tokenizer, train)
        validation_ids = encode(tokenizer, validation)
        print(f"\n{kind}: vocabulary {tokenizer.vocabulary_size():,}, "
              f"{len(train_ids):,} training and {len(validation_ids):,} "
              "validation tokens")
        print("order | val loss (nats/token) | bits/character | counting "
              "(s) | n-grams")
        for order in args.orders:
            start = time.perf_counter()
            model = NGramLM(order, tokenizer.vocabulary_size()).fit(
                train_ids)
            seconds = time.perf_counter() - start
            nats = -model.log_probabilities(validation_ids).sum()
            # The first token is not scored: its characters are left out.
            first = len(decode(tokenizer, validation_ids[:1]))
            bits = nats / (len(validation) - first) / math.log(2)
            print(f"{order:>5} | {nats / (len(validation_ids) - 1):.4f} | "
                  f"{bits:.4f} | {seconds:.1f} | {model.num_ngrams():,}")


if __name__ == "__main__":
    main()
