"""`tfzoo generate`: continue prompts with a language-model run."""

import sys

from tfzoo.choices import DEFAULT_NEW_TOKENS
from tfzoo.cli.common import (PROGRAM, add_command, add_end_token,
                              add_sampling_options, load_run, positive_int)


def add_parser(subparsers):
    parser = add_command(
        subparsers, "generate",
        help="continue prompts with a trained run's model",
        description="Continue each prompt with the run's model (one batch, "
        "key/value cache, compiled loop). Each token is predicted from the "
        "model's max sequence length of tokens before it at most: past "
        "that, the window slides, as nanoGPT's sampler crops its context.",
        handler=generate)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("prompts", nargs="+", metavar="PROMPT",
                        help="text to continue (quote it)")
    parser.add_argument("--max-new-tokens", type=positive_int,
                        help="how many tokens to write, any number (default: "
                        f"{DEFAULT_NEW_TOKENS['char']} for character models, "
                        f"{DEFAULT_NEW_TOKENS['subword']} for subword ones)")
    add_sampling_options(parser, temperature=0.8,
                         seed_help="default: random")
    add_end_token(parser)
    parser.add_argument("--chat", action="store_true",
                        help="pretrained chat models: each PROMPT is a "
                        "user's turn, framed by the model's chat template; "
                        "print the reply (up to the end of its turn)")
    parser.add_argument("--system", help="with --chat: a system prompt "
                        "(default: the template's own, if any)")


def generate(args):
    """The handler: the run's task's `generate`."""
    run = load_run(args.run, "language_model")
    from tfzoo.cli.common import end_token_id
    from tfzoo.tasks.catalog import task_of
    from tfzoo.text.encoding import encode, valid_text

    prompts = [valid_text(p) for p in args.prompts]
    if args.chat:
        return _chat_turns(run, prompts, args)
    if args.system is not None:
        raise ValueError("--system applies with --chat only")
    continuations = task_of(run.settings).generate(
        run, prompts, max_new_tokens=args.max_new_tokens,
        temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
        seed=args.seed, end_token_id=end_token_id(run.tokenizer,
                                                  args.end_token),
        use_cache=not args.no_cache, jit_compile=not args.no_xla)
    context = getattr(run.model, "max_sequence_length", None)
    for i, (prompt, text) in enumerate(zip(prompts, continuations)):
        if context is not None:
            length = len(encode(run.tokenizer, prompt))
            if length > context:
                print(f"{PROGRAM}: note: prompt {i + 1} has {length} tokens; "
                      f"the model saw its last {context}", file=sys.stderr)
        if i:
            print("-" * 40)
        print(prompt + text)


def _chat_turns(run, prompts, args):
    """`generate --chat`: one turn per prompt, each reply printed."""
    if args.end_token is not None:
        raise ValueError("--chat ends each reply at the model's end of turn; "
                         "leave out --end-token")
    from tfzoo.generation.chat import DEFAULT_MAX_NEW_TOKENS, chat

    for i, prompt in enumerate(prompts):
        if i:
            print("-" * 40)
        print(chat(run, prompt, max_new_tokens=args.max_new_tokens
                   or DEFAULT_MAX_NEW_TOKENS,
                   system=args.system, temperature=args.temperature,
                   top_k=args.top_k, top_p=args.top_p, seed=args.seed))
