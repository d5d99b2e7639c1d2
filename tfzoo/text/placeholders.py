"""Placeholders in program messages, which a translation must carry over.

Software messages hold slots that the program fills in at run time:
printf conversions (`%s`, `%d`, `%.*s`, `%lu`, `%-10s`; `%2$s` counts as
`%s`, since a translation may reorder the arguments), command-line options
(`--force`, and `-n` after a space, bracket or slash), shell-style variables
(`$HOME`, `${name}`) and brace fields (`{0}`, `{name}`). A translation
that drops or changes one breaks the program; one that keeps them all is
usable at least there.
"""

import re
from collections import Counter

PLACEHOLDER = re.compile(
    # printf: a '-' flag must come with a width (so "10%-expansion" and
    # "% of" are no conversions).
    r"%(?:\d+\$)?(?:[+#0']|-(?=[-+#0']*[\d*]))*(?:\d+|\*)?"
    r"(?:\.(?:\d+|\*))?"
    r"(?:hh|h|ll|l|L|q|j|z|t|I64|I32)?[diouxXeEfFgGaAcCsSpnm%]"
    # options: after a space, bracket, slash, comma or quote
    r"|(?:(?<=^)|(?<=[\s\[(/,»«„“\"'‚]))"
    r"(?:--[A-Za-z][\w-]*|-[A-Za-z](?![\w-]))"
    r"|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?"
    r"|\{[A-Za-z0-9_]*\}"
)

_POSITION = re.compile(r"^%\d+\$")


def placeholders(text):
    """The placeholders in `text`, with their counts (`"%%"` excluded).

    Example:
    >>> sorted(placeholders("cannot open %s: %d (try --force)").elements())
    ['%d', '%s', '--force']
    """
    return Counter(_POSITION.sub("%", match)
                   for match in PLACEHOLDER.findall(text) if match != "%%")


def placeholders_kept(source, translation):
    """Whether `translation` holds every placeholder of `source` (as many
    times)."""
    return not placeholders(source) - placeholders(translation)


def placeholder_share(sources, translations):
    """`(kept, total)`: of the `total` sources that hold a placeholder, the
    number whose translation keeps them all."""
    total = kept = 0
    for source, translation in zip(sources, translations):
        if placeholders(source):
            total += 1
            kept += placeholders_kept(source, translation)
    return kept, total
