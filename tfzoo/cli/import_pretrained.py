"""`tfzoo import`: a pretrained causal LM as a run folder."""

from tfzoo.cli.common import add_command, positive_int
from tfzoo.presets import PRETRAINED_MAX_SEQUENCE_LENGTH


def add_parser(subparsers):
    parser = add_command(
        subparsers, "import",
        help="import a pretrained LLM (GGUF, Hugging Face folder, hf://) "
        "as a run",
        description="Read a pretrained causal language model and write it "
        "as an ordinary language-model run folder (run.json naming the "
        "architecture and the source, its own byte-level BPE tokenizer, "
        "its chat template, model.keras in float32), so that generate, "
        "chat, eval, export and train --init read it as any run. SOURCE is "
        "a GGUF file of the llama architecture (any tensor type gguf "
        "dequantizes), a Hugging Face folder (config.json, *.safetensors, "
        "tokenizer.json) of model type llama or gpt2, or hf://owner/name "
        "(downloaded when online). Everything is read and checked before "
        "anything is written.", handler=import_pretrained)
    parser.add_argument("source", metavar="SOURCE",
                        help="a .gguf file, a Hugging Face folder, or "
                        "hf://owner/name")
    parser.add_argument("--out", required=True,
                        help="the run folder to write (e.g. runs/smollm2)")
    parser.add_argument("--max-sequence-length", type=positive_int,
                        default=PRETRAINED_MAX_SEQUENCE_LENGTH,
                        help="the longest text (prompt and reply) the run "
                        "reads, at most the model's context; longer costs "
                        "memory and time")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a run already in --out")


def import_pretrained(args):
    """The handler: `tfzoo.runs.pretrained.import_pretrained`."""
    from tfzoo.runs.pretrained import import_pretrained

    run = import_pretrained(args.source, args.out, overwrite=args.overwrite,
                            max_sequence_length=args.max_sequence_length)
    settings = run.settings
    print(f"Imported {settings['architecture']} from {args.source} into "
          f"{args.out}: {run.model.count_params():,} parameters, "
          f"{run.tokenizer.vocabulary_size():,} tokens, context "
          f"{run.model.max_sequence_length:,} tokens (of "
          f"{settings['context_length']:,})"
          + (", chat template" if run.chat_template else "") + ".")
    print(f"Next: tfzoo chat --run {args.out}")
