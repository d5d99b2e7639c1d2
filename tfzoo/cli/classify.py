"""`tfzoo classify`: the most likely class of texts, with a classifier
run."""

from tfzoo.cli.common import add_command, load_run


def add_parser(subparsers):
    parser = add_command(
        subparsers, "classify",
        help="classify texts with a trained classifier run",
        description="Print the most likely class of each text and its "
        "probability.", handler=classify)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("texts", nargs="+", metavar="TEXT")
    parser.add_argument("--pair", action="append",
                        help="second text of a pair, once per TEXT")


def classify(args):
    """The handler: `predict_probabilities` on the run's model."""
    if args.pair and len(args.pair) != len(args.texts):
        raise ValueError(f"give one --pair per text ({len(args.texts)}), "
                         f"not {len(args.pair)}")
    run = load_run(args.run, "classification")
    from tfzoo.tasks.classification import predict_probabilities

    probabilities = predict_probabilities(run.model, run.preprocessor,
                                          args.texts, args.pair)
    for text, row in zip(args.texts, probabilities):
        best = int(row.argmax())
        print(f"{run.labels[best]}\t{row[best]:.3f}\t{text}")
