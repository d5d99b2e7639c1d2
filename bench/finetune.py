"""Fine-tuning SmolLM2-135M-Instruct on 2 cores: LoRA and full, against
the base model.

    python bench/finetune.py [--minutes 10] [--corpora shakespeare en]
        [--modes lora full] [--validation-characters 20000]
        [--chat-pairs 200] [--data-dir ../shared/data] [--only CORPUS MODE]

For each corpus (those of `bench/word_level.py`: Tiny Shakespeare with
nanoGPT's split, and the English side of `translation_en_de`, train.tsv
trains and dev.tsv validates), prints the validation loss (nats/token) and
word perplexity (words as `tfzoo eval` counts them) of

- the base model, no training;
- LoRA (rank 8 on query and value, alpha 8, AdamW at a peak of 5e-4,
  everything else frozen: `tfzoo train --init ... --lora-rank 8`'s
  defaults) after `--minutes` of wall-clock training (compilation
  included), warmup then cosine decay over the budget;
- full fine-tuning (every weight, peak 5e-5) for the same budget;

with tokens/s, trainable parameters and peak memory. Each model is
measured in a process of its own (TensorFlow keeps the memory of every
model a process builds), so each peak is that model's. Windows of 256
tokens, batch 4. The validation text is the first
`--validation-characters` of the validation split (scoring all of it takes
minutes more per model on 2 cores), scored in windows of 256 with a stride
of 128.

Then a chat example: `--chat-pairs` question/answer pairs from
translation_en_de's training pairs ("Translate to German: EN" -> the
German), written as chat JSONL and fine-tuned with LoRA for `--minutes`
(assistant tokens only in the loss); on 30 held-out dev pairs it prints the
share of greedy answers that follow the format (a single line with no
English "Translate" and no <|im_end|> inside, starting with a capital or a
placeholder, and at least one word shared with the reference German) before
and after, and chrF against the references.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from shakespeare_char import WallClockSchedule  # noqa: E402
from pretrained import peak_memory_gib as peak_gib, smollm2_path  # noqa: E402,E501
from word_level import REPOSITORY, corpus, words_of  # noqa: E402

import tfzoo  # noqa: E402
from tfzoo.data import data_dir  # noqa: E402
from tfzoo.data.table import read_table  # noqa: E402
from tfzoo.data.windows import training_windows  # noqa: E402
from tfzoo.decoding.scoring import text_log_likelihood  # noqa: E402
from tfzoo.models.lora import enable_lora  # noqa: E402
from tfzoo.optimizers import make_optimizer  # noqa: E402
from tfzoo.text import encode  # noqa: E402

LENGTH, BATCH = 256, 4
RATES = {"lora": 5e-4, "full": 5e-5}


def fresh_model(mode):
    """SmolLM2, float32, with LoRA (mode "lora") or every weight trainable,
    compiled for training."""
    run = tfzoo.load_pretrained(smollm2_path(), max_sequence_length=LENGTH)
    model = run.model
    if mode == "lora":
        enable_lora(model, 8)
    model.compile(
        optimizer=make_optimizer(RATES.get(mode, 1e-4), weight_decay=0.0),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True)
    return run, model


def score(model, tokenizer, text):
    """`(nats/token, word perplexity)` of `text`."""
    ids = encode(tokenizer, text)
    nats, count = text_log_likelihood(model, ids, stride=LENGTH // 2,
                                      verbose=False)
    return -nats / count, math.exp(-nats / len(words_of(text)))


def train_for(model, ids, minutes, peak):
    """Trains on windows of `ids` for `minutes`; returns tokens/s."""
    data = training_windows(ids, LENGTH, BATCH, 10_000, seed=0)
    schedule = WallClockSchedule(peak, minutes * 60, 20, 0.1)
    start = time.perf_counter()
    model.fit(data, epochs=1, steps_per_epoch=10_000, verbose=0,
              callbacks=[schedule])
    return schedule.steps * BATCH * LENGTH / (time.perf_counter() - start)


def trainable(model):
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


def chat_example(directory, pairs, minutes):
    """The format-following share before and after LoRA on chat data."""
    import sacrebleu

    from tfzoo.generation.chat import chat

    folder = os.path.join(directory, "translation_en_de")
    train = read_table(os.path.join(folder, "train.tsv"), ["en", "de"])
    dev = read_table(os.path.join(folder, "dev.tsv"), ["en", "de"])

    def question(english):
        return f"Translate to German: {english}"

    run, model = fresh_model("lora")
    messages = [[{"role": "user", "content": question(en)},
                 {"role": "assistant", "content": de}]
                for en, de in list(zip(train["en"], train["de"]))[:pairs]]
    tests = list(zip(dev["en"], dev["de"]))[:30]

    def share_and_chrf():
        answers = [chat(run, question(en), max_new_tokens=48)
                   for en, _ in tests]
        follows = [follows_format(answer, de)
                   for answer, (_, de) in zip(answers, tests)]
        chrf = sacrebleu.corpus_chrf(answers, [[de for _, de in tests]])
        return sum(follows) / len(tests), chrf.score, answers[0]

    before = share_and_chrf()
    from tfzoo.text.chat_template import training_pieces
    from tfzoo.text.encoding import encode_pieces

    ids, weights = [], []
    for conversation in messages:
        pieces = training_pieces(run.chat_template, conversation,
                                 run.settings.get("special_tokens"))
        piece_ids, piece_weights = encode_pieces(run.tokenizer, pieces)
        ids.extend(piece_ids)
        weights.extend(piece_weights)
    ids, weights = np.asarray(ids, "int32"), np.asarray(weights, "float32")
    count = (len(ids) - 1) // LENGTH
    x = ids[:count * LENGTH].reshape(count, LENGTH)
    y = ids[1:count * LENGTH + 1].reshape(count, LENGTH)
    w = weights[1:count * LENGTH + 1].reshape(count, LENGTH)
    schedule = WallClockSchedule(RATES["lora"], minutes * 60, 10, 0.1)
    model.fit(x, y, sample_weight=w, batch_size=BATCH, epochs=1000,
              verbose=0, callbacks=[schedule])
    after = share_and_chrf()
    return (f"chat example ({pairs} pairs, {count} windows, "
            f"{schedule.steps} steps of LoRA): answers that follow the "
            f"format {before[0]:.0%} before, {after[0]:.0%} after; chrF "
            f"{before[1]:.1f} before, {after[1]:.1f} after; peak "
            f"{peak_gib():.1f} GiB\n  first dev answer before: "
            f"{before[2]!r}\n  after: {after[2]!r}")


def follows_format(answer, reference):
    """A single-line German answer (see the module docstring)."""
    if not answer or "\n" in answer.strip() or "Translate" in answer:
        return False
    shared = set(answer.lower().split()) & set(reference.lower().split())
    return bool(shared)


def measure(name, mode, args, directory):
    """One row: `mode` ("base", "lora" or "full") on corpus `name`."""
    train_text, validation_text = corpus(name, directory)
    validation_text = validation_text[:args.validation_characters]
    validation_text = validation_text[:validation_text.rfind("\n") + 1]
    run, model = fresh_model(mode)
    rate, label = "", "base, no training"
    if mode != "base":
        train_ids = encode(run.tokenizer, train_text)
        print(f"{name}: {len(train_ids):,} training tokens; {mode} for "
              f"{args.minutes:g} min", flush=True)
        rate = f"{train_for(model, train_ids, args.minutes, RATES[mode]):,.0f}"
        label = f"{mode} {args.minutes:g} min"
    loss, perplexity = score(model, run.tokenizer, validation_text)
    return [name, label, loss, perplexity, rate,
            f"{trainable(model):,}" if mode != "base" else "",
            f"{peak_gib():.1f}"]


def in_subprocess(arguments):
    """Runs this script with `arguments` in a fresh process (TensorFlow
    does not give back the memory of a model it has built, so each model
    gets its own process and its own peak) and returns its last line,
    read as JSON."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__),
                             *arguments], stdout=subprocess.PIPE, text=True)
    lines = result.stdout.strip().splitlines()
    if result.returncode or not lines:
        print(result.stdout, flush=True)
        sys.exit(f"finetune.py {' '.join(arguments)} failed "
                 f"(exit {result.returncode})")
    if lines[:-1]:
        print("\n".join(lines[:-1]), flush=True)
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0,
                        help="training time of each fine-tuning run")
    parser.add_argument("--corpora", nargs="+", default=["shakespeare", "en"],
                        choices=["shakespeare", "en"])
    parser.add_argument("--modes", nargs="+", default=["lora", "full"],
                        choices=["lora", "full"])
    parser.add_argument("--validation-characters", type=int, default=20000)
    parser.add_argument("--chat-pairs", type=int, default=200,
                        help="0: no chat example")
    parser.add_argument("--data-dir", help="default: $TFZOO_DATA_DIR, "
                        "else ../shared/data beside the repository")
    parser.add_argument("--only", nargs=2, metavar=("CORPUS", "MODE"),
                        help="one measurement in this process, printed as "
                        "JSON: CORPUS shakespeare or en with MODE base, lora "
                        "or full; or `chat lora` for the chat example (what "
                        "the script runs in a subprocess for each)")
    args = parser.parse_args()
    directory = data_dir(args.data_dir) or os.path.join(
        REPOSITORY, "..", "shared", "data")
    keras.utils.set_random_seed(0)
    if args.only:
        name, mode = args.only
        if name == "chat":
            print(json.dumps(chat_example(directory, args.chat_pairs,
                                          args.minutes)))
        else:
            print(json.dumps(measure(name, mode, args, directory)))
        return
    shared = ["--minutes", str(args.minutes), "--validation-characters",
              str(args.validation_characters), "--chat-pairs",
              str(args.chat_pairs), "--data-dir", directory]
    rows = []
    for name in args.corpora:
        for mode in ["base", *args.modes]:
            rows.append(in_subprocess(["--only", name, mode, *shared]))
            row = rows[-1]
            print(f"{name}, {row[1]}: {row[2]:.3f} nats/token, word "
                  f"perplexity {row[3]:.1f}, tokens/s {row[4] or '-'}, "
                  f"peak {row[6]} GiB", flush=True)
    print("\ncorpus | model | validation nats/token | word perplexity | "
          "tokens/s | trainable | peak GiB")
    for row in rows:
        print(" | ".join(str(cell) if not isinstance(cell, float)
                         else f"{cell:.3f}" if cell < 10 else f"{cell:.1f}"
                         for cell in row))
    if args.chat_pairs:
        print(in_subprocess(["--only", "chat", "lora", *shared]))


if __name__ == "__main__":
    main()
