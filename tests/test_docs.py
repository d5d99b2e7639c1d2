"""The README and the pages of docs/: every relative link resolves, and
the README stays a page read in five minutes.

A relative Markdown link `[text](path)` or `[text](path#anchor)` (not
http, https or mailto) must name a file of the repository, relative to the
page; an `#anchor` must name a heading of the target page by GitHub's
slug rule. Links inside code (fenced blocks and `inline code`) are not
links. No TensorFlow here.
"""

import pathlib
import re
import unicodedata
from urllib.parse import unquote

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README_MAX_LINES = 300

# [text](target) and [text](target "title"); the text may hold brackets of
# inline code but not other links. Images (![alt](src)) resolve the same.
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?"
                  r"(?:\s+\"[^\"]*\")?\s*\)")
# Reference definitions: [name]: target
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, mailto:, ...
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")


def pages():
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))


def outside_fences(text):
    """The lines of `text` outside fenced code blocks, each with its
    number (from 1)."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        if fence is None:
            match = FENCE.match(line)
            if match:
                fence = match.group(1)
            else:
                yield number, line
        elif set(line.strip()) <= {fence[0]} and \
                len(line.strip()) >= len(fence):
            fence = None


def prose_lines(text):
    """`outside_fences(text)` with inline code spans blanked out."""
    for number, line in outside_fences(text):
        yield number, re.sub(r"(`+)(?:(?!\1).)+?\1",
                             lambda m: " " * len(m.group(0)), line)


def slug(heading):
    """GitHub's anchor of a heading: Markdown marks dropped, lowercase,
    punctuation dropped (letters, digits, `-`, `_` and spaces kept), each
    space a `-`."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links
    text = re.sub(r"<[^>]+>", "", text)  # HTML tags
    text = text.replace("`", "").lower()
    text = "".join(
        c for c in text
        if c in "-_ " or unicodedata.category(c)[0] in "LN")
    return text.replace(" ", "-")


def anchors(path):
    """The anchors of the Markdown file `path`: its headings' slugs (a
    repeated slug gets `-1`, `-2`, ... as on GitHub) and explicit
    `<a name=...>` anchors."""
    found, seen = set(), {}
    text = path.read_text(encoding="utf-8")
    for _, line in prose_lines(text):
        found.update(HTML_ANCHOR.findall(line))
    # Headings are read with their inline code kept.
    for _, line in outside_fences(text):
        heading = HEADING.match(line)
        if heading:
            anchor = slug(heading.group(2))
            count = seen.get(anchor, 0)
            seen[anchor] = count + 1
            found.add(anchor if count == 0 else f"{anchor}-{count}")
    return found


def links(path):
    """(line number, target) of every link in the page `path`."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(line):
            yield number, match.group(1)
        reference = REFERENCE.match(line)
        if reference:
            yield number, reference.group(1)


def broken_links(path):
    """The relative links of `path` that do not resolve, in words."""
    problems = []
    for number, target in links(path):
        if not target or EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        file_part = unquote(file_part)
        if file_part:
            resolved = (path.parent / file_part).resolve()
            if not resolved.exists():
                problems.append(f"{path.name}:{number}: {target}: no such "
                                "file")
                continue
            try:
                resolved.relative_to(ROOT)
            except ValueError:
                problems.append(f"{path.name}:{number}: {target}: outside "
                                "the repository")
                continue
        else:
            resolved = path
        if anchor and resolved.suffix == ".md":
            if anchor not in anchors(resolved):
                problems.append(f"{path.name}:{number}: {target}: no "
                                f"heading #{anchor} in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", pages(),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page):
    problems = broken_links(page)
    assert not problems, "\n".join(problems)


def test_the_readme_is_read_in_five_minutes():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it at most "
        f"{README_MAX_LINES} and move the rest into docs/")


def test_the_checker_catches_a_broken_file_a_broken_anchor_and_slugs(
        tmp_path, monkeypatch):
    tmp_path = tmp_path.resolve()
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text(
        "# A page\n\n## The run folder\n\n## What's `tfzoo eval`?\n"
        "\n## The run folder\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md) [ok](docs/a.md#the-run-folder)\n"
        "[ok](docs/a.md#whats-tfzoo-eval) [ok](docs/a.md#the-run-folder-1)\n"
        "[ok](https://example.com/x.md) [ok](mailto:a@b.c) [ok](#top)\n"
        "`[code](missing.md)`\n```\n[code](missing.md)\n```\n"
        "# Top\n"
        "[bad](docs/missing.md) [bad](docs/a.md#no-such-heading)\n"
        "[bad](#nowhere)\n", encoding="utf-8")
    problems = broken_links(page)
    assert len(problems) == 3, problems
    assert "docs/missing.md: no such file" in problems[0]
    assert "no heading #no-such-heading in a.md" in problems[1]
    assert "no heading #nowhere in README.md" in problems[2]
