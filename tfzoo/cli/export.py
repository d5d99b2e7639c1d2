"""`tfzoo export`: a run as a versioned SavedModel for TF Serving."""

import os

from tfzoo.choices import QUANTIZATION_MODES
from tfzoo.cli.common import (add_command, add_end_token, load_run,
                              positive_int)


def add_parser(subparsers):
    parser = add_command(
        subparsers, "export",
        help="export a run as a SavedModel for TF Serving",
        description="Write the run's model and its tokenizer (and decoder) "
        "as BASE_DIR/NAME/VERSION/, the next free version, with warm-up "
        "requests; existing versions are never touched. BASE_DIR/"
        "models.config lists every exported model (entries added by hand "
        "are kept) and BASE_DIR/batching.config is an example to tune. "
        "Language models: serving_default (prompt -> text) and score (text "
        "-> log_likelihood, token_count), and for pretrained chat models chat "
        "(role, content, optional system -> reply). Classifiers: serving_default "
        "(text, optional text_pair -> probabilities, label_id, label). "
        "Translation: serving_default (source, optional beam_width and "
        "max_new_tokens -> translation).", handler=export)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("--name", required=True,
                        help="model name, the folder under --base-dir")
    parser.add_argument("--base-dir", default="saved_models",
                        help="TF Serving's model base folder")
    add_end_token(parser)
    parser.add_argument("--max-sequence-length", type=positive_int,
                        help="language models: the longest text served "
                        "(prompt and new tokens), at most the run's "
                        "(default: the run's)")
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


def export(args):
    """The handler: `tfzoo.tasks.export` of the loaded run."""
    from tfzoo.serving.versions import check_model_name

    check_model_name(args.name)
    run = load_run(args.run)
    from tfzoo.cli.common import end_token_id
    from tfzoo.tasks.catalog import export as export_run

    if args.end_token is not None and run.task != "language_model":
        raise ValueError("--end-token applies to language models only")
    path = export_run(
        run, args.name, base_dir=args.base_dir,
        jit_compile=not args.no_xla,
        end_token_id=end_token_id(run.tokenizer, args.end_token),
        labels=args.labels.split(",") if args.labels else None,
        warmup=not args.no_warmup, version_policy=args.version_policy,
        serving_root=args.serving_root, quantize=args.quantize,
        max_sequence_length=args.max_sequence_length)
    print(f"Exported {args.run} to {path}; TF Serving's model config: "
          f"{os.path.join(args.base_dir, 'models.config')}")
