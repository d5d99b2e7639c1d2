"""The `tfzoo` command: train, evaluate, sample from and export models.

    tfzoo train --model gpt --preset gpt-tiny --data tiny_shakespeare \\
        --steps 500 --out runs/tiny
    tfzoo eval --run runs/tiny
    tfzoo generate --run runs/tiny "ROMEO:" "JULIET:"
    tfzoo export --run runs/tiny --name shakespeare
    tfzoo train --model seq2seq --train translation_en_de/train.tsv \\
        --val translation_en_de/dev.tsv --out runs/en-de
    tfzoo translate --run runs/en-de "File not found"

One module per command, its parser (`add_parser`) beside its handler;
`program` puts them together. Run `tfzoo COMMAND --help` for every option.
"""

from tfzoo.cli.program import build_parser, console_main, main

__all__ = ["build_parser", "console_main", "main"]
