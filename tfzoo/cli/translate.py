"""`tfzoo translate`: translate sentences with a translation run."""

from tfzoo.cli.common import (add_command, add_sampling_options, load_run,
                              positive_int)


def add_parser(subparsers):
    parser = add_command(
        subparsers, "translate",
        help="translate sentences with a trained translation run",
        description="Translate each sentence with the run's model (batches "
        "of sentences of similar length, cached decoder, compiled loop): "
        "beam search by default, greedy with --beam-width 1, sampling with "
        "--beam-width 1 and --temperature above 0. A sentence longer than "
        "the model's max sequence length keeps its first tokens.",
        handler=translate)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("sources", nargs="+", metavar="SENTENCE",
                        help="text to translate (quote it)")
    parser.add_argument("--beam-width", type=positive_int, default=4,
                        help="hypotheses kept by beam search (1: greedy)")
    parser.add_argument("--length-penalty", type=float, default=0.6,
                        help="beam search's alpha (Wu et al., 2016), at "
                        "least 0: higher favours longer translations")
    parser.add_argument("--max-new-tokens", type=positive_int,
                        help="longest translation in tokens (default: the "
                        "max sequence length)")
    add_sampling_options(parser, temperature=0.0, seed_help="sampling "
                         "seed, with --beam-width 1 (default: random)")


def translate(args):
    """The handler: `tfzoo.generation.translate` on the run's model."""
    if args.beam_width > 1 and args.temperature > 0:
        raise ValueError("--temperature above 0 samples; it needs "
                         "--beam-width 1")
    run = load_run(args.run, "translation")
    from tfzoo.generation.translate import translate as translate_text
    from tfzoo.text.encoding import valid_text

    translations = translate_text(
        run.model, run.tokenizer, [valid_text(s) for s in args.sources],
        beam_width=args.beam_width, max_new_tokens=args.max_new_tokens,
        length_penalty=args.length_penalty, temperature=args.temperature,
        top_k=args.top_k, top_p=args.top_p, seed=args.seed,
        use_cache=not args.no_cache, jit_compile=not args.no_xla)
    for translation in translations:
        print(translation)
