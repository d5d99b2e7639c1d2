"""`tfzoo chat`: talk with an imported pretrained chat model."""

import sys

from tfzoo.cli.common import PROGRAM, add_command, load_run, positive_int

RESET = "/reset"


def add_parser(subparsers):
    parser = add_command(
        subparsers, "chat",
        help="chat with an imported pretrained model (tfzoo import)",
        description="Talk with the run's model: each line you type is your "
        "turn, the reply streams as it is written, and the conversation is "
        "kept (its prompt written by the model's own chat template). "
        f"{RESET} starts a new conversation; Ctrl-D or Ctrl-C ends. Lines "
        "piped in (not a terminal) are read as turns, one per line.",
        handler=chat)
    parser.add_argument("--run", required=True, help="the run folder")
    parser.add_argument("--system", help="a system prompt (default: the "
                        "template's own, if any)")
    parser.add_argument("--max-new-tokens", type=positive_int, default=256,
                        help="the longest reply, in tokens")
    parser.add_argument("--temperature", type=float, default=0.2,
                        help="0 or less: greedy; above 0: sample")
    parser.add_argument("--top-k", type=int, default=0,
                        help="sample among the k most likely tokens (0: all)")
    parser.add_argument("--top-p", type=float, default=0.9,
                        help="sample within the nucleus of this mass, (0, 1]")
    parser.add_argument("--seed", type=int, help="default: random")


def chat(args):
    """The handler: a read-reply loop over `stream_reply`."""
    if not 0 < args.top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], got {args.top_p}")
    run = load_run(args.run, "language_model")
    from tfzoo.generation.chat import stream_reply

    if not run.chat_template:
        raise ValueError(f"{args.run} has no chat template: chat needs an "
                         "instruction-tuned pretrained model (tfzoo import)")
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"Chatting with {args.run} ({RESET} starts over, Ctrl-D ends).")
    messages = []
    try:
        while True:
            try:
                line = input("> " if interactive else "")
            except EOFError:
                break
            if line.strip() == RESET:
                messages = []
                print("(a new conversation)")
                continue
            if not line.strip():
                continue
            messages.append({"role": "user", "content": line})
            pieces = []
            for piece in stream_reply(
                    run, messages, args.max_new_tokens, args.system,
                    args.temperature, args.top_k, args.top_p, args.seed):
                pieces.append(piece)
                print(piece, end="", flush=True)
            print()
            messages.append({"role": "assistant", "content": "".join(pieces)})
    except KeyboardInterrupt:
        print()
    if interactive:
        print(f"{PROGRAM}: bye", file=sys.stderr)
