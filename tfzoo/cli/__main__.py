"""`python -m tfzoo.cli`: the `tfzoo` command."""

from tfzoo.cli.program import console_main

console_main()
