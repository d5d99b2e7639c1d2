"""The `tfzoo` command: train, evaluate, sample from and export models.

    tfzoo train --model gpt --preset gpt-tiny --data tiny_shakespeare \\
        --steps 500 --out runs/tiny
    tfzoo eval --run runs/tiny
    tfzoo generate --run runs/tiny "ROMEO:" "JULIET:"
    tfzoo export --run runs/tiny --name shakespeare
    tfzoo train --model seq2seq --train translation_en_de/train.tsv \\
        --val translation_en_de/dev.tsv --out runs/en-de
    tfzoo translate --run runs/en-de "File not found"

Run `tfzoo COMMAND --help` for every option.
"""

import argparse
import os
import sys

# Light modules only (no TensorFlow), so that --help and argument errors
# answer at once; each command imports what it runs.
from tfzoo.choices import (MODELS, NGRAM_SMOOTHINGS, OPTIMIZERS,
                           PRECISIONS, QUANTIZATION_MODES, QUOTING,
                           STRATEGIES, TASKS, TOKENIZERS, task_of)
from tfzoo.console import quiet_native_logs
from tfzoo.presets import (DEFAULT_PRESETS, ENCODER_MAX_SEQUENCE_LENGTH,
                           PRESETS, SUBWORD_PRESETS)

# Keep TensorFlow's start-up chatter off the terminal unless asked for.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROGRAM = "tfzoo"


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """Answers a bad argument in one line, without the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} "
                  "--help)\n")


class _DefaultsHelpFormatter(argparse.HelpFormatter):
    """Shows each option's default once: appended where the help does not
    already say it, left out where there is none."""

    def _get_help_string(self, action):
        help = action.help or ""
        if ("default:" in help or action.default in (None, False)
                or action.default is argparse.SUPPRESS or action.required
                or not action.option_strings):
            return help
        return f"{help} (default: {action.default})".strip()


def _subcommand(subparsers, name, help, description):
    """A `tfzoo NAME` parser whose --help shows each option's default."""
    return subparsers.add_parser(
        name,
        help=help,
        description=description,
        formatter_class=_DefaultsHelpFormatter,
    )


def _add_data_arguments(parser):
    parser.add_argument(
        "--data-dir",
        help="folder where relative data paths and TFDS manual downloads "
        "are looked up (default: $TFZOO_DATA_DIR)",
    )


def _train_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "train",
        help="train a language model, a text classifier or a translation "
        "model",
        description="Train a GPT or LSTM language model (--data), a BERT "
        "encoder by masked-LM pretraining (--data), a text classifier or a "
        "translation model (--train, --val) with model.fit, or count the "
        "n-gram baseline (--model ngram). Rerunning the same command resumes "
        "an interrupted run.",
    )
    parser.add_argument("--model", choices=MODELS, default="gpt",
                        help="what to train: a language model (gpt, lstm, "
                        "or the counted n-gram baseline: ngram), "
                        "a classifier, a BERT encoder by masked-LM "
                        "pretraining (bert-mlm), or a translation model "
                        "(seq2seq: the encoder-decoder Transformer; "
                        "lstm-seq2seq: LSTMs with attention)")
    defaults = ", ".join(
        f"{preset} for {model}" + (
            f" ({SUBWORD_PRESETS[model]} with --tokenizer subword)"
            if model in SUBWORD_PRESETS else "")
        for model, preset in DEFAULT_PRESETS.items())
    parser.add_argument(
        "--preset",
        help=f"language and translation model size: {', '.join(PRESETS)} "
        f"(default: {defaults})",
    )
    parser.add_argument(
        "--data",
        help="language models and bert-mlm (MLM pretraining, one example per "
        "line): a text file, a folder of text files, or a TFDS name such as "
        "tiny_shakespeare",
    )
    parser.add_argument(
        "--val",
        help="validation data, in the form the task trains on: language "
        "models a file, folder or TFDS name (its validation split), validated "
        "whole while --data trains whole; classifiers labelled examples; "
        "translation sentence pairs (default for language models: the last "
        "--validation-fraction of --data)")
    _add_data_arguments(parser)
    classifier = parser.add_argument_group(
        "classifiers", "bert-classifier, transformer-classifier and "
        "lstm-classifier read labelled TSV/CSV files (or TFDS, e.g. "
        "glue/sst2); texts longer than --max-sequence-length tokens are "
        "truncated")
    classifier.add_argument("--train", help="labelled training examples "
                            "(translation: sentence pairs)")
    classifier.add_argument(
        "--init", help="bert-classifier: start from a Hugging Face BERT "
        "checkpoint folder or a tfzoo classifier run (default: from scratch)")
    classifier.add_argument("--text-column", default="sentence",
                            help="column of the text")
    classifier.add_argument("--label-column", default="label",
                            help="column of the label")
    classifier.add_argument("--pair-column",
                            help="column of the second text of a pair")
    classifier.add_argument(
        "--skip-bad-rows", action="store_true",
        help="skip (and count) rows with more or fewer fields than the "
        "header instead of refusing the file")
    classifier.add_argument(
        "--quoting", choices=QUOTING, default="auto",
        help="csv: quoted fields as spreadsheets write them; none: quotes "
        "are literal text; auto: csv, or none when only that reads every "
        "row")
    classifier.add_argument(
        "--labels", help="comma-separated class names, in label-id order "
        "(default: the training labels, sorted)")
    ngram = parser.add_argument_group(
        "n-gram", "--model ngram counts n-grams of the tokens (--tokenizer "
        "char or subword) in seconds; the baseline the neural models must "
        "beat")
    ngram.add_argument("--order", type=_positive_int,
                       help="n: each token is conditioned on the n-1 before "
                       "it (default: 5)")
    ngram.add_argument("--smoothing", choices=NGRAM_SMOOTHINGS,
                       help="kneser_ney: interpolated modified Kneser-Ney "
                       "(Chen & Goodman 1998); add_k: (count + k) / "
                       "(context count + k V) (default: kneser_ney)")
    ngram.add_argument("--add-k", type=float,
                       help="add_k's pseudo-count k (default: 1.0)")
    translation = parser.add_argument_group(
        "translation", "seq2seq and lstm-seq2seq read sentence pairs from "
        "TSV/CSV files (--train, --val; or a TFDS name such as "
        "ted_hrlr_translate/pt_to_en) and train one SentencePiece "
        "vocabulary on both sides; pairs longer than "
        "--max-sequence-length tokens are truncated")
    translation.add_argument("--source-column", default="en",
                             help="column of the source sentence")
    translation.add_argument("--target-column", default="de",
                             help="column of the target sentence")
    translation.add_argument("--label-smoothing", type=float, default=0.1,
                             help="share of the target probability spread "
                             "over the vocabulary")
    parser.add_argument("--tokenizer", choices=TOKENIZERS, default="char",
                        help="language models: one id per character, or "
                        "SentencePiece subwords trained on the text")
    parser.add_argument(
        "--vocab-size", type=_positive_int,
        help="subword vocabulary size (default: the preset's, else 2000)",
    )
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=_positive_int,
                        help="epochs (default: 1 for language models, 3 for "
                        "classifiers)")
    length.add_argument("--steps", type=_positive_int,
                        help="optimizer steps, rounded up to whole epochs")
    parser.add_argument(
        "--steps-per-epoch", type=_positive_int,
        help="default: one pass over the training tokens",
    )
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--batch-size", type=_positive_int,
                       help="batch of each replica; a step's global batch is "
                       "this times the replicas (default: the preset's)")
    batch.add_argument("--global-batch-size", type=_positive_int,
                       help="batch of a whole step, divided among the "
                       "replicas (keeps a recipe the same on any number of "
                       "devices)")
    parser.add_argument("--learning-rate", type=float,
                        help="peak learning rate (default: the preset's)")
    parser.add_argument("--warmup-steps", type=int,
                        help="optimizer steps of linear warmup (default: "
                        "the preset's for language models, a tenth of the "
                        "run for classifiers and bert-mlm)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help="language models: adamw, or muon for the "
                        "weight matrices and adamw for the rest (default: "
                        "the preset's: muon for gpt-subword, else adamw); "
                        "classifiers train with adamw")
    parser.add_argument("--weight-decay", type=float,
                        help="default: 0.1 for language models, 0.01 for "
                        "classifiers and translation models")
    parser.add_argument("--clip-norm", type=float, default=1.0,
                        help="global gradient norm clip")
    parser.add_argument(
        "--max-sequence-length", type=_positive_int,
        help="longest sequence the model reads, in tokens (default: the "
        "preset's for language and translation models (source and target "
        "each); "
        f"{ENCODER_MAX_SEQUENCE_LENGTH} for classifiers and bert-mlm, [CLS] and "
        "[SEP] included, longer texts truncated)")
    # The names this option had before tfzoo gave it one: still accepted.
    for old_name in ("--context-length", "--max-length"):
        parser.add_argument(old_name, type=_positive_int,
                            dest="max_sequence_length", help=argparse.SUPPRESS)
    parser.add_argument("--dropout", type=float,
                        help="default: the preset's")
    parser.add_argument("--validation-fraction", type=float,
                        help="without --val: the last fraction of --data's "
                        "characters used for validation (default: 0.1; "
                        "TFDS datasets use their own split)")
    parser.add_argument("--seed", type=int, default=1337,
                        help="seeds the weights, the data order and dropout")
    parser.add_argument(
        "--deterministic", action="store_true",
        help="make every op deterministic "
        "(tf.config.experimental.enable_op_determinism): with --seed, two "
        "runs give bit-identical losses; some ops get slower")
    parser.add_argument("--no-xla", action="store_true",
                        help="do not compile the training step with XLA "
                        "(XLA is always off under mirrored and multiworker)")
    _add_distribution_arguments(parser)
    parser.add_argument("--sample-every", type=int, default=500,
                        help="steps between text samples in TensorBoard "
                        "(0: only at the end)")
    parser.add_argument("--out", required=True, help="the run folder")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace a different run in --out",
    )
    parser.set_defaults(command=_train)


def _eval_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "eval",
        help="evaluate a trained run",
        description="Language models: score a text whole (overlapping "
        "windows, every token but the first predicted once) and print loss "
        "and perplexity per token, bits per character, and loss and "
        "perplexity per word. Classifiers: accuracy, macro F1 and the "
        "confusion matrix. Translation: loss, BLEU and chrF.",
    )
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument(
        "--data", help="what to score: a file or folder (language models "
        "score it whole), or a TFDS name (default: the run's validation "
        "data)")
    _add_data_arguments(parser)
    parser.add_argument("--split", choices=["validation", "train"],
                        help="language models: the part of the run's data, "
                        "or of a TFDS dataset, to score (default: "
                        "validation)")
    parser.add_argument("--stride", type=_positive_int,
                        help="language models: tokens between scoring "
                        "windows; each token sees at least max sequence "
                        "length - stride tokens of context (default: half "
                        "the max sequence length; equal to it: windows that "
                        "do not overlap)")
    parser.add_argument("--batch-size", type=_positive_int,
                        help="default: the run's (64 for translation)")
    parser.add_argument("--beam-width", type=_positive_int, default=4,
                        help="translation: the beam search scored beside "
                        "greedy decoding (1: greedy only)")
    parser.add_argument("--limit", type=_positive_int,
                        help="translation: score the first N pairs only "
                        "(default: all)")
    parser.set_defaults(command=_eval)


def _generate_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "generate",
        help="continue prompts with a trained run's model",
        description="Continue each prompt with the run's model (one batch, "
        "key/value cache, compiled loop). A prompt longer than the model's "
        "max sequence length "
        "less --max-new-tokens keeps its most recent tokens.",
    )
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("prompts", nargs="+", metavar="PROMPT",
                        help="text to continue (quote it)")
    parser.add_argument("--max-new-tokens", type=int,
                        help="from 1 to the max sequence length less 1 "
                        "(default: half of it; n-gram runs: 100)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="0 or less: greedy decoding")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most likely tokens (0: all)")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="sample within the nucleus of this mass, (0, 1]")
    parser.add_argument("--seed", type=int, help="default: random")
    _add_end_token_argument(parser)
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run the whole model at every step (slow; "
                        "for comparison)")
    parser.add_argument("--no-xla", action="store_true",
                        help="do not compile the decoding loop with XLA")
    parser.set_defaults(command=_generate)


def _translate_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "translate",
        help="translate sentences with a trained translation run",
        description="Translate each sentence with the run's model (batches "
        "of sentences of similar length, cached decoder, compiled loop): "
        "beam search by default, "
        "greedy with --beam-width 1, sampling with --beam-width 1 and "
        "--temperature above 0. A sentence longer than the model's max "
        "sequence length keeps its first tokens.",
    )
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("sources", nargs="+", metavar="SENTENCE",
                        help="text to translate (quote it)")
    parser.add_argument("--beam-width", type=_positive_int, default=4,
                        help="hypotheses kept by beam search (1: greedy)")
    parser.add_argument("--length-penalty", type=float, default=0.6,
                        help="beam search's alpha (Wu et al., 2016), at "
                        "least 0: higher favours longer translations")
    parser.add_argument("--max-new-tokens", type=_positive_int,
                        help="longest translation in tokens (default: the "
                        "max sequence length)")
    parser.add_argument("--temperature", type=float, default=0.0,
                        help="above 0: sample (with --beam-width 1)")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most likely tokens (0: all)")
    parser.add_argument("--top-p", type=float, default=1.0,
                        help="sample within the nucleus of this mass, (0, 1]")
    parser.add_argument("--seed", type=int, help="sampling seed (default: "
                        "random)")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run the whole model at every step (slow; "
                        "for comparison)")
    parser.add_argument("--no-xla", action="store_true",
                        help="do not compile the decoding loop with XLA")
    parser.set_defaults(command=_translate)


def _translate(args):
    from tfzoo.generation.translate import translate
    from tfzoo.text.encoding import valid_text

    if args.beam_width > 1 and args.temperature > 0:
        raise ValueError("--temperature above 0 samples; it needs "
                         "--beam-width 1")
    run = _load_run(args.run, "translation")
    sources = [valid_text(s) for s in args.sources]
    translations = translate(
        run.model, run.tokenizer, sources, beam_width=args.beam_width,
        max_new_tokens=args.max_new_tokens,
        length_penalty=args.length_penalty, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed,
        use_cache=not args.no_cache, jit_compile=not args.no_xla)
    for translation in translations:
        print(translation)


def _export_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "export",
        help="export a run as a SavedModel for TF Serving",
        description="Write the run's model and its tokenizer (and decoder) "
        "as BASE_DIR/NAME/VERSION/, the next free version, with warm-up "
        "requests; existing versions are never touched. BASE_DIR/"
        "models.config lists every exported model (entries added by hand "
        "are kept) and BASE_DIR/batching.config is an example to tune. Language models: serving_default (prompt -> "
        "text) and score (text -> log_likelihood, token_count). "
        "Classifiers: serving_default (text, optional text_pair -> "
        "probabilities, label_id, label). Translation: serving_default "
        "(source, optional beam_width and max_new_tokens -> translation).",
    )
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("--name", required=True,
                        help="model name, the folder under --base-dir")
    parser.add_argument("--base-dir", default="saved_models",
                        help="TF Serving's model base folder")
    _add_end_token_argument(parser)
    parser.add_argument("--labels", help="classifiers: comma-separated class "
                        "names to return (default: the training labels)")
    parser.add_argument(
        "--no-xla", action="store_true",
        help="export a plain graph: slower, but needs no XLA in the server "
        "(with XLA, TF Serving on CPU needs --xla_cpu_compilation_enabled)",
    )
    parser.add_argument(
        "--no-warmup", action="store_true",
        help="write no assets.extra/tf_serving_warmup_requests (requests "
        "the server replays when it loads the version)")
    parser.add_argument(
        "--version-policy", default="latest",
        help="the model's version policy in BASE_DIR/models.config: "
        "latest, all, or specific:N,M")
    parser.add_argument(
        "--serving-root", default="/models",
        help="where the server sees BASE_DIR: a model's base_path in "
        "models.config is SERVING_ROOT/NAME")
    parser.add_argument(
        "--quantize", choices=QUANTIZATION_MODES,
        help="store the weight matrices (attention, MLP, embeddings, output "
        "layer) as int8 with a float32 scale per channel: a Transformer "
        "over 3 times smaller; an LSTM's LSTM layers stay float32 "
        "(default: all float32)")
    parser.set_defaults(command=_export)


def _add_end_token_argument(parser):
    parser.add_argument(
        "--end-token",
        help="stop a text after this token (one token; backslash escapes "
        "such as \\n are read)",
    )


def _end_token_id(tokenizer, text):
    """The id of `--end-token`, which must be exactly one token."""
    if text is None:
        return None
    if "\\" in text:
        text = text.encode("latin-1", "backslashreplace").decode(
            "unicode_escape")
    from tfzoo.text.encoding import encode

    ids = encode(tokenizer, text)
    if len(ids) != 1:
        raise ValueError(
            f"--end-token must be one token of the run's tokenizer; "
            f"{text!r} is {len(ids)}"
        )
    return int(ids[0])


def _load_run(run_dir, *tasks):
    """The finished run in `run_dir`, if its task is one of `tasks` (any
    task if none is given); `run.json` is read once, the model loaded after
    the task is checked."""
    from tfzoo.training.loader import load_run
    from tfzoo.training.run_folder import read_settings

    settings = read_settings(run_dir)
    if tasks and settings["task"] not in tasks:
        raise ValueError(f"{run_dir} is a {settings['task']} run; this "
                         f"command takes {' or '.join(tasks)} runs")
    return load_run(run_dir, settings=settings)


def _generate(args):
    from tfzoo.generation.generate import generate
    from tfzoo.text.encoding import encode, valid_text

    run = _load_run(args.run, "language_model")
    model, tokenizer = run.model, run.tokenizer
    end_token_id = _end_token_id(tokenizer, args.end_token)
    if run.settings.get("model") == "ngram":
        return _generate_ngram(run, args, end_token_id)
    max_new_tokens = args.max_new_tokens
    if max_new_tokens is None:
        max_new_tokens = model.max_sequence_length // 2
    room = model.max_sequence_length - max_new_tokens
    prompts = [valid_text(p) for p in args.prompts]
    continuations = generate(
        model,
        tokenizer,
        prompts,
        max_new_tokens=max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        end_token_id=end_token_id,
        use_cache=not args.no_cache,
        jit_compile=not args.no_xla,
    )
    for i, (prompt, text) in enumerate(zip(prompts, continuations)):
        length = len(encode(tokenizer, prompt))
        if length > room:
            print(f"{PROGRAM}: note: prompt {i + 1} has {length} tokens; "
                  f"the model saw its last {room}", file=sys.stderr)
        if i:
            print("-" * 40)
        print(prompt + text)


def _generate_ngram(run, args, end_token_id):
    from tfzoo.generation.ngram_sampling import sample_ngram
    from tfzoo.text.encoding import valid_text

    prompts = [valid_text(p) for p in args.prompts]
    continuations = sample_ngram(
        run.model, run.tokenizer, prompts,
        max_new_tokens=(100 if args.max_new_tokens is None
                        else args.max_new_tokens),
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        seed=args.seed, end_token_id=end_token_id)
    for i, (prompt, text) in enumerate(zip(prompts, continuations)):
        if i:
            print("-" * 40)
        print(prompt + text)


def _export(args):
    from tfzoo.export import check_model_name, export

    check_model_name(args.name)
    run = _load_run(args.run)
    end_token_id = None
    if args.end_token is not None:
        if run.task != "language_model":
            raise ValueError("--end-token applies to language models only")
        end_token_id = _end_token_id(run.tokenizer, args.end_token)
    path = export(
        run,
        args.name,
        base_dir=args.base_dir,
        jit_compile=not args.no_xla,
        end_token_id=end_token_id,
        labels=args.labels.split(",") if args.labels else None,
        warmup=not args.no_warmup,
        version_policy=args.version_policy,
        serving_root=args.serving_root,
        quantize=args.quantize,
    )
    print(f"Exported {args.run} to {path}; TF Serving's model config: "
          f"{os.path.join(args.base_dir, 'models.config')}")


def _add_distribution_arguments(parser):
    group = parser.add_argument_group(
        "distribution", "where training runs (see docs/distributed.md)")
    group.add_argument(
        "--strategy", choices=STRATEGIES, default="auto",
        help="auto: a TPU if one is found, else mirrored over several "
        "GPUs, else default (one device); multiworker reads TF_CONFIG")
    group.add_argument("--tpu", help="TPU name or grpc://host:port; leave "
                       "it out on a TPU VM (its local TPU)")
    group.add_argument(
        "--cpu-devices", type=_positive_int,
        help="split the CPU into this many logical devices, to try "
        "--strategy mirrored without GPUs")
    group.add_argument(
        "--precision", choices=PRECISIONS, default="float32",
        help="mixed_*: compute in 16 bits, keep weights and logits in "
        "float32 (float16 on GPUs, bfloat16 on TPUs, recent GPUs and CPUs)")


def _start_strategy(args):
    """The strategy of `args`, set up before TensorFlow runs anything."""
    import tensorflow as tf

    from tfzoo.training.distribute import (check_precision, make_strategy,
                                           split_cpu)

    if args.cpu_devices:
        split_cpu(args.cpu_devices)
    strategy = make_strategy(args.strategy, args.tpu)
    check_precision(args.precision)
    if args.deterministic:
        tf.config.experimental.enable_op_determinism()
    return strategy


def _train(args):
    task = task_of(args.model)
    language_models = TASKS["language_model"]
    if args.optimizer and task != "language_model":
        raise ValueError(f"--optimizer is for --model "
                         f"{' or '.join(language_models)}; {args.model} "
                         "trains with adamw")
    if task == "classification":
        return _train_classifier(args)
    if task == "masked_lm":
        return _train_masked_lm(args)
    if task == "translation":
        return _train_translation(args)
    if args.model == "ngram":
        return _train_ngram(args)
    ngram_only = _given_options(args, "order", "smoothing", "add_k")
    if ngram_only:
        raise ValueError(f"{', '.join(ngram_only)} applies to --model ngram")
    _check_data_and_val(args)
    strategy = _start_strategy(args)
    from tfzoo.training.language_model import make_settings, train

    settings = make_settings(
        model=args.model,
        preset=args.preset or _preset_of_run(args.out, args.model),
        data=args.data,
        tokenizer=args.tokenizer,
        vocabulary_size=args.vocab_size,
        epochs=args.epochs,
        steps=args.steps,
        steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size,
        global_batch_size=args.global_batch_size,
        learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps,
        optimizer=args.optimizer,
        **({} if args.weight_decay is None
           else {"weight_decay": args.weight_decay}),
        clip_norm=args.clip_norm,
        max_sequence_length=args.max_sequence_length,
        dropout=args.dropout,
        validation_fraction=_validation_fraction(args),
        validation_data=args.val,
        seed=args.seed,
        jit_compile=not args.no_xla,
        precision=args.precision,
    )
    _, _, sample = train(
        settings,
        args.out,
        data_dir=args.data_dir,
        overwrite=args.overwrite,
        sample_every=args.sample_every,
        strategy=strategy,
    )
    if sample is not None:
        print(f"\nModel saved to {os.path.join(args.out, 'model.keras')}. "
              f"A sample:\n\n{sample}\n")


def _preset_of_run(run_dir, model):
    """The preset of the `model` run already in `run_dir`, if any: rerunning
    a command without --preset resumes its run even if the default preset
    has changed since (the subword default did, to gpt-subword)."""
    from tfzoo.training.run_folder import read_settings

    try:
        settings = read_settings(run_dir)
    except (ValueError, OSError):
        return None
    return settings.get("preset") if settings.get("model") == model else None


def _given_options(args, *names):
    """The `--options` among `names` that the command line gave (those
    whose default is None), for the checks of what applies to which
    model."""
    return [f"--{name.replace('_', '-')}" for name in names
            if getattr(args, name) is not None]


def _train_ngram(args):
    _check_data_and_val(args)
    neural_only = _given_options(
        args, "preset", "epochs", "steps", "steps_per_epoch", "batch_size",
        "global_batch_size", "learning_rate", "warmup_steps", "optimizer",
        "weight_decay", "max_sequence_length", "dropout")
    if neural_only:
        raise ValueError(f"--model ngram is counted, not trained: it takes "
                         f"no {', '.join(neural_only)}")
    from tfzoo.training.ngram import make_ngram_settings, train_ngram

    if args.add_k is not None and args.smoothing != "add_k":
        raise ValueError("--add-k applies to --smoothing add_k")
    settings = make_ngram_settings(
        args.data, order=args.order or 5,
        smoothing=args.smoothing or "kneser_ney",
        k=1.0 if args.add_k is None else args.add_k,
        tokenizer=args.tokenizer, vocabulary_size=args.vocab_size,
        validation_fraction=_validation_fraction(args),
        validation_data=args.val)
    train_ngram(settings, args.out, data_dir=args.data_dir,
                overwrite=args.overwrite)
    print(f"\nModel saved to {args.out}; sample from it with: tfzoo "
          f"generate --run {args.out} \"TEXT\"")


def _validation_fraction(args):
    """`--validation-fraction`, 0.1 when not given."""
    if args.validation_fraction is None:
        return 0.1
    return args.validation_fraction


def _check_data_and_val(args):
    """The arguments of the tasks that read --data (language models,
    bert-mlm), checked before TensorFlow loads."""
    if not args.data:
        raise ValueError(f"--model {args.model} needs --data")
    if args.val and args.validation_fraction is not None:
        raise ValueError("give --val or --validation-fraction, not both")


def _check_train_and_val(args, kind):
    """The arguments of the tasks that read --train and --val files
    (classifiers, translation models), checked before TensorFlow loads."""
    if not (args.train and args.val):
        raise ValueError(f"--model {args.model} needs --train and --val")
    if args.global_batch_size:
        raise ValueError(f"{kind} take --batch-size (per replica), not "
                         "--global-batch-size")


def _train_classifier(args):
    from tfzoo.training.classifier import (make_classifier_settings,
                                           train_classifier)

    _check_train_and_val(args, "classifiers")
    if args.steps:
        raise ValueError("classifiers take --epochs and --steps-per-epoch, "
                         "not --steps")
    strategy = _start_strategy(args)
    options = {
        "learning_rate": args.learning_rate,
        "batch_size": args.batch_size,
        "dropout": args.dropout,
        "epochs": args.epochs,
        "weight_decay": args.weight_decay,
        "vocabulary_size": args.vocab_size,
        "warmup_steps": args.warmup_steps,
        "max_sequence_length": args.max_sequence_length,
    }
    settings = make_classifier_settings(
        args.model,
        args.train,
        args.val,
        init=args.init,
        text_column=args.text_column,
        label_column=args.label_column,
        pair_column=args.pair_column,
        skip_bad_rows=args.skip_bad_rows,
        labels=args.labels.split(",") if args.labels else None,
        steps_per_epoch=args.steps_per_epoch,
        seed=args.seed,
        precision=args.precision,
        **{k: v for k, v in options.items() if v is not None},
    )
    train_classifier(settings, args.out, data_dir=args.data_dir,
                     overwrite=args.overwrite, strategy=strategy)
    print(f"\nModel saved to {os.path.join(args.out, 'model.keras')}.")


def _train_masked_lm(args):
    from tfzoo.training.masked_lm import make_mlm_settings, train_masked_lm

    _check_data_and_val(args)
    if args.global_batch_size or args.precision != "float32":
        raise ValueError(f"--model {args.model} takes --batch-size (per "
                         "replica) and float32 only")
    strategy = _start_strategy(args)
    options = {
        "epochs": args.epochs,
        "steps_per_epoch": args.steps_per_epoch,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "dropout": args.dropout,
        "weight_decay": args.weight_decay,
        "vocabulary_size": args.vocab_size,
        "warmup_steps": args.warmup_steps,
        "max_sequence_length": args.max_sequence_length,
    }
    settings = make_mlm_settings(
        args.data, validation_fraction=_validation_fraction(args),
        validation_data=args.val,
        seed=args.seed,
        **{k: v for k, v in options.items() if v is not None})
    train_masked_lm(settings, args.out, data_dir=args.data_dir,
                    overwrite=args.overwrite, strategy=strategy)
    print(f"\nModel saved to {os.path.join(args.out, 'model.keras')}; "
          f"fine-tune it with --model bert-classifier --init {args.out}")


def _train_translation(args):
    from tfzoo.training.translation import (make_translation_settings,
                                            train_translation)

    _check_train_and_val(args, "translation models")
    strategy = _start_strategy(args)
    options = {
        "weight_decay": args.weight_decay,
        "dropout": args.dropout,
    }
    settings = make_translation_settings(
        args.model, args.train, args.val, preset=args.preset,
        source_column=args.source_column, target_column=args.target_column,
        skip_bad_rows=args.skip_bad_rows, quoting=args.quoting,
        vocabulary_size=args.vocab_size,
        max_sequence_length=args.max_sequence_length, epochs=args.epochs,
        steps=args.steps, steps_per_epoch=args.steps_per_epoch,
        batch_size=args.batch_size, learning_rate=args.learning_rate,
        warmup_steps=args.warmup_steps, clip_norm=args.clip_norm,
        label_smoothing=args.label_smoothing, seed=args.seed,
        jit_compile=not args.no_xla, precision=args.precision,
        **{k: v for k, v in options.items() if v is not None})
    train_translation(settings, args.out, data_dir=args.data_dir,
                      overwrite=args.overwrite,
                      sample_every=args.sample_every, strategy=strategy)
    print(f"\nModel saved to {os.path.join(args.out, 'model.keras')}; "
          f"translate with: tfzoo translate --run {args.out} \"TEXT\"")


def _plot_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "plot",
        help="plot a run's training curves (and confusion matrix)",
        description="Write PNGs: training and validation curves per epoch "
        "from logs/history.csv, and for classifiers the confusion matrix "
        "on the validation data.",
    )
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("--out", help="default: RUN/plots")
    _add_data_arguments(parser)
    parser.set_defaults(command=_plot)


def _plot(args):
    from tfzoo.training.plots import plot_run

    for path in plot_run(args.run, args.out, data_dir=args.data_dir):
        print(f"Wrote {path}")


def _classify_parser(subparsers):
    parser = _subcommand(
        subparsers,
        "classify",
        help="classify texts with a trained classifier run",
        description="Print the most likely class of each text and its "
        "probability.",
    )
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("texts", nargs="+", metavar="TEXT")
    parser.add_argument("--pair", action="append",
                        help="second text of a pair, once per TEXT")
    parser.set_defaults(command=_classify)


def _classify(args):
    from tfzoo.training.classifier import predict_probabilities

    if args.pair and len(args.pair) != len(args.texts):
        raise ValueError(f"give one --pair per text ({len(args.texts)}), "
                         f"not {len(args.pair)}")
    run = _load_run(args.run, "classification")
    probabilities = predict_probabilities(run.model, run.tokenizer,
                                          args.texts, args.pair)
    for text, row in zip(args.texts, probabilities):
        best = int(row.argmax())
        print(f"{run.labels[best]}\t{row[best]:.3f}\t{text}")


def _eval_classifier(run, args):
    from tfzoo.training import classifier

    metrics = classifier.evaluate(run, data=args.data,
                                  data_dir=args.data_dir,
                                  batch_size=args.batch_size)
    print(f"accuracy {metrics['accuracy']:.4f}, macro F1 "
          f"{metrics['macro_f1']:.4f} ({metrics['examples']:,} examples)")
    names = metrics["labels"]
    width = max(len(n) for n in names + ["true \\ predicted"])
    print("confusion matrix (rows: true class, columns: predicted):")
    print(" " * width + "".join(f"{n:>10}" for n in names))
    for name, row in zip(names, metrics["confusion_matrix"]):
        print(f"{name:<{width}}" + "".join(f"{v:>10}" for v in row))


def _eval_translation(run, args):
    from tfzoo.training import translation

    metrics = translation.evaluate(run, data=args.data,
                                   data_dir=args.data_dir,
                                   batch_size=args.batch_size or 64,
                                   beam_width=args.beam_width,
                                   limit=args.limit)
    print(f"loss {metrics['loss']:.4f} nats/token, perplexity "
          f"{metrics['perplexity']:.3f} ({metrics['tokens']:,} target "
          f"tokens, {metrics['pairs']:,} pairs)")
    for name in ("greedy", "beam"):
        if name not in metrics:
            continue
        scores = metrics[name]
        label = ("greedy" if name == "greedy"
                 else f"beam {scores['beam_width']}")
        print(f"{label}: BLEU {scores['bleu']:.2f}, chrF "
              f"{scores['chrf']:.2f}, placeholders kept in "
              f"{scores['placeholders_kept']:.1%} of "
              f"{scores['placeholder_sentences']:,} sentences")
    first = metrics["greedy"]
    print(f"sacrebleu BLEU: {first['bleu_signature']}")
    print(f"sacrebleu chrF: {first['chrf_signature']}")


def _eval(args):
    from tfzoo.training.loader import load_run
    from tfzoo.training.run_folder import read_settings

    settings = read_settings(args.run)
    if settings["task"] == "masked_lm":
        raise ValueError(f"{args.run} is an MLM run; its validation loss and "
                         "accuracy are in logs/history.csv")
    run = load_run(args.run, settings=settings)
    if run.task == "classification":
        return _eval_classifier(run, args)
    if run.task == "translation":
        return _eval_translation(run, args)
    from tfzoo.training import language_model

    metrics = language_model.evaluate(
        run,
        data=args.data,
        data_dir=args.data_dir,
        split=args.split,
        batch_size=args.batch_size,
        stride=args.stride,
    )
    print(f"{metrics['source']}: {metrics['tokens']:,} tokens scored, "
          f"{metrics['words']:,} words")
    print(f"loss {metrics['loss']:.4f} nats/token, perplexity "
          f"{metrics['perplexity']:.3f}, "
          f"{metrics['bits_per_character']:.4f} bits/character")
    print(f"loss {metrics['loss_per_word']:.4f} nats/word, word perplexity "
          f"{metrics['word_perplexity']:.2f}")


def build_parser():
    parser = _Parser(
        prog=PROGRAM,
        description="tfzoo: Keras 3 language models (GPT, LSTM, BERT, "
        "encoder-decoder translation): train with model.fit, evaluate, "
        "generate, translate, export for TF Serving.",
    )
    subparsers = parser.add_subparsers(title="commands", required=True)
    _train_parser(subparsers)
    _eval_parser(subparsers)
    _generate_parser(subparsers)
    _translate_parser(subparsers)
    _classify_parser(subparsers)
    _plot_parser(subparsers)
    _export_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of the `tfzoo` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with quiet_native_logs():
            args.command(args)
    except (ValueError, OSError) as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        from tfzoo.training.callbacks import TrainingDiverged
        from tfzoo.training.distribute import WorkerLost

        if not isinstance(error, (TrainingDiverged, WorkerLost)):
            raise
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 1
    return 0


def console_main():
    sys.exit(main())


if __name__ == "__main__":
    console_main()
