"""Tables of text: TSV and CSV files with a header row.

Two ways to read a field are common, and a file does not say which it uses:

- `"csv"`: the dialect of Python's `csv` module and of spreadsheets. A
  field in `"` quotes may hold the separator, newlines and doubled `""`
  quotes.
- `"none"`: every character is literal, quotes included; a field never
  holds the separator or a newline (GLUE's and many corpora's TSV files).

`"auto"` (the default) reads the file as `"csv"` (strictly: a quote that
opens a field must close it) and, if that fails or gives rows of unequal
length while the literal reading gives every row the header's field count
(with `skip_bad_rows`, some rows), reads it literally and says so in one
line.

A quote that opens a field and closes on a later line can also give rows
that look right: in `Open<TAB>"Öffnen` then `Close<TAB>Schließen"`, CSV
reads one row whose second field holds a newline and a tab. `"auto"`
never merges rows so silently. When a quoted field spans lines that are
each, read literally, a whole row (the header's field count), it

- in a TSV file (quoting is rare there, and such a field is almost always
  a stray quote): reads the file literally and says so in one line that
  names the lines, if the literal reading gives every row its fields (with
  `skip_bad_rows`, some rows); else refuses the file as below;
- in a CSV file (spreadsheets write real multi-line cells, and the file
  cannot tell which was meant): refuses the file in one line that names
  the lines and the two choices, `"none"` (quotes are literal text) and
  `"csv"` (the multi-line field is meant).

A multi-line field whose lines are not whole rows (a line break inside a
cell, as in `"two<NEWLINE>lines"<TAB>c`) is read as CSV reads it, in
both; and `"csv"` reads every multi-line field so.

`.csv` files are comma-separated, anything else tab-separated.
"""

import csv
import io
import sys

from tfzoo.choices import QUOTING, check_choice
from tfzoo.data.sources import read_text_file


def read_header(path):
    """The column names of the table in the file `path`: its first line,
    read without the rest, so that the command line checks columns before
    anything heavy loads.

    Raises:
        ValueError: an unreadable or empty file.
    """
    first = read_text_file(path).split("\n", 1)[0].rstrip("\r")
    delimiter = "," if path.lower().endswith(".csv") else "\t"
    return next(csv.reader([first], delimiter=delimiter), [])


def check_columns(path, header, columns):
    """`ValueError` naming `path` unless its `header` holds each of
    `columns`."""
    if not header or not any(header):
        raise ValueError(f"{path} is empty")
    absent = [c for c in columns if c not in header]
    if absent:
        raise ValueError(f"{path} has no column {', '.join(absent)} (its "
                         f"header: {', '.join(header)})")


def read_table(path, columns, skip_bad_rows=False, quoting="auto"):
    """Reads the `columns` of the table in the file `path`.

    Args:
        path: str, a TSV or CSV file with a header row.
        columns: list of str, the column names wanted.
        skip_bad_rows: bool; skip rows with more or fewer fields than the
            header (their count is printed on stderr in one line) instead
            of refusing the file.
        quoting: `"auto"`, `"csv"` or `"none"` (see the module docstring).

    Returns:
        A dict from each name in `columns` to its list of str fields, one
        per row, in file order (blank lines skipped).

    Raises:
        ValueError: an unknown `quoting`; an empty file; a missing column;
            a row with more or fewer fields than the header, a quote left
            open, or an empty field (named by file and line); with `"auto"`,
            a quoted field that would merge rows (named by file and lines;
            see the module docstring); a file with no valid row.
    """
    check_choice("quoting", quoting, QUOTING)
    text = read_text_file(path)
    delimiter = "," if path.lower().endswith(".csv") else "\t"
    header, rows = _rows(path, text, delimiter, quoting, skip_bad_rows)
    check_columns(path, header, columns)
    good, skipped = [], 0
    for number, row in rows:
        if len(row) != len(header):
            if skip_bad_rows:
                skipped += 1
                continue
            raise ValueError(
                f"{path}, line {number}: {len(row)} "
                f"field{'' if len(row) == 1 else 's'} where the header has "
                f"{len(header)} (a separator inside an unquoted text?); "
                "quote such texts, or pass --skip-bad-rows")
        good.append((number, row))
    if skipped:
        print(f"{path}: skipped {skipped:,} of {skipped + len(good):,} rows "
              f"with other than {len(header)} fields", file=sys.stderr)
    if not good:
        raise ValueError(f"{path} has a header but no examples" + (
            f" with {len(header)} fields" if skipped else ""))
    indices = {c: header.index(c) for c in columns}
    values = {c: [] for c in columns}
    for number, row in good:
        for column, index in indices.items():
            if row[index] == "":
                raise ValueError(f"{path}, line {number}: the {column!r} "
                                 "field is missing")
            values[column].append(row[index])
    return values


def _rows(path, text, delimiter, quoting, skip_bad_rows):
    """The header and `(line number, fields)` of each non-blank row, read
    as `quoting` says (see the module docstring)."""
    if quoting == "none":
        return _literal_rows(text, delimiter)
    try:
        header, rows, spans = _csv_rows(text, delimiter, path)
    except ValueError:
        if quoting == "csv" or not _literal_fits(text, delimiter,
                                                 skip_bad_rows):
            raise
        return _literal_rows_said(path, text, delimiter)
    if quoting == "csv":
        return header, rows
    if _ragged(header, rows) and _literal_reads_more(
            text, delimiter, header, rows, skip_bad_rows):
        return _literal_rows_said(path, text, delimiter)
    merged = _merged_rows(text, delimiter, header, spans)
    if not merged:
        return header, rows
    where = _lines(merged)
    if delimiter == "\t" and _literal_fits(text, delimiter, skip_bad_rows):
        return _literal_rows_said(
            path, text, delimiter, f", {where}", ", as a quoted field would "
            "merge these rows into one; pass --quoting csv if the multi-line "
            "field is intended")
    raise ValueError(
        f"{path}, {where}: a quoted field spans these lines, each a whole row "
        "read literally, and would merge them into one; pass --quoting none "
        "to read quotes as literal text, or --quoting csv if the multi-line "
        "field is intended")


def _csv_rows(text, delimiter, path):
    """The header, `(line number, fields)` of each non-blank row, and the
    `(first, last)` line numbers of each row that spans lines, read as
    strict CSV."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        strict=True)
    try:
        header = next(reader, None)
        rows, spans = [], []
        last_line = reader.line_num
        for row in reader:
            if row:
                rows.append((last_line + 1, row))
            if reader.line_num > last_line + 1:  # a newline in a field
                spans.append((last_line + 1, reader.line_num))
            last_line = reader.line_num
    except csv.Error as error:  # e.g. a quote left open to the end
        raise ValueError(f"{path}, line {reader.line_num}: {error}") from None
    return header, rows, spans


def _merged_rows(text, delimiter, header, spans):
    """The spans of lines that CSV reads as one row although each line,
    read literally, has the header's field count: rows merged by a quote
    that opens a field on one line and closes it on a later one."""
    lines = text.split("\n")
    return [(first, last) for first, last in spans
            if all(len(line.split(delimiter)) == len(header)
                   for line in lines[first - 1:last])]


def _lines(spans, most=3):
    """`"lines 2-3"`, `"lines 2-3, 7-9 and 12-13"`, `"... and 4 more"`."""
    named = [f"{first}-{last}" for first, last in spans[:most]]
    if len(spans) > most:
        named.append(f"{len(spans) - most} more")
    return "lines " + (named[0] if len(named) == 1 else
                       ", ".join(named[:-1]) + " and " + named[-1])


def _literal_rows_said(path, text, delimiter, where="", why=""):
    """`_literal_rows`, saying so on stderr in one line."""
    print(f"{path}{where}: read without quoting (its quote characters are "
          f"literal text){why}", file=sys.stderr)
    return _literal_rows(text, delimiter)


def _literal_rows(text, delimiter):
    lines = text.split("\n")
    header = lines[0].split(delimiter) if lines[0] else None
    rows = [(number, line.split(delimiter))
            for number, line in enumerate(lines[1:], start=2) if line]
    return header, rows


def _fitting(header, rows):
    return sum(len(row) == len(header) for _, row in rows)


def _literal_reads_more(text, delimiter, header, rows, skip_bad_rows):
    """Whether the literal reading explains what the CSV reading does not:
    every row (or, with `skip_bad_rows`, more rows than CSV) gets the
    header's field count."""
    if _literal_fits(text, delimiter):
        return True
    literal_header, literal_rows = _literal_rows(text, delimiter)
    return (skip_bad_rows and literal_header == header
            and _fitting(literal_header, literal_rows)
            > _fitting(header, rows))


def _ragged(header, rows):
    return header is not None and any(len(r) != len(header) for _, r in rows)


def _literal_fits(text, delimiter, skip_bad_rows=False):
    """Whether reading literally gives every row the header's length (with
    `skip_bad_rows`: at least one row)."""
    header, rows = _literal_rows(text, delimiter)
    if not header or not rows:
        return False
    if skip_bad_rows:
        return any(len(row) == len(header) for _, row in rows)
    return not _ragged(header, rows)
