import pytest

from tfzoo.data.table import read_table


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# The shared translation corpus's layout: quotes are literal characters.
LITERAL = ('en\tde\n"#expires" is obsolescent\t»#expires« ist veraltet\n'
           'say "hi\tsag »hallo\n')


def test_auto_reads_literal_quotes_literally_and_says_so(tmp_path, capsys):
    path = write(tmp_path, "literal.tsv", LITERAL)
    values = read_table(path, ["en", "de"])
    assert values["en"] == ['"#expires" is obsolescent', 'say "hi']
    assert values["de"] == ["»#expires« ist veraltet", "sag »hallo"]
    note = capsys.readouterr().err.strip()
    assert note.endswith("literal.tsv: read without quoting (its quote "
                         "characters are literal text)")


def test_none_reads_literally_without_a_note(tmp_path, capsys):
    path = write(tmp_path, "literal.tsv", LITERAL)
    assert read_table(path, ["en"], quoting="none")["en"][1] == 'say "hi'
    assert capsys.readouterr().err == ""


def test_csv_refuses_what_it_cannot_read(tmp_path):
    path = write(tmp_path, "literal.tsv", LITERAL)
    with pytest.raises(ValueError, match="literal.tsv, line 2: "):
        read_table(path, ["en"], quoting="csv")


def test_auto_keeps_csv_quoting_when_it_reads(tmp_path, capsys):
    path = write(tmp_path, "quoted.tsv",
                 'en\tde\n"a\ttab"\tb\n"two\nlines"\tc\n')
    values = read_table(path, ["en", "de"])
    assert values["en"] == ["a\ttab", "two\nlines"]
    assert capsys.readouterr().err == ""


def test_auto_reports_ragged_rows_that_neither_reading_explains(tmp_path):
    path = write(tmp_path, "ragged.tsv", 'en\tde\na\tb\tc\n"x"\ty\n')
    with pytest.raises(ValueError, match="line 2: 3 fields"):
        read_table(path, ["en"])


def test_unknown_quoting(tmp_path):
    with pytest.raises(ValueError, match="unknown quoting 'maybe'"):
        read_table(write(tmp_path, "a.tsv", "en\na\n"), ["en"], quoting="maybe")


# The file: a stray quote opens on line 2 and closes on line 3.
# Read as CSV, it merges the two rows into one that looks right.
STRAY = 'en\tde\nOpen\t"Öffnen\nClose\tSchließen"\nSave\tSpeichern\n'
LITERAL_PAIRS = {"en": ["Open", "Close", "Save"],
                 "de": ['"Öffnen', 'Schließen"', "Speichern"]}
MERGED_PAIRS = {"en": ["Open", "Save"],
                "de": ["Öffnen\nClose{}Schließen", "Speichern"]}


@pytest.mark.parametrize("name, separator", [("stray.tsv", "\t"),
                                             ("stray.csv", ",")])
def test_a_stray_quote_never_merges_rows_silently(tmp_path, capsys, name,
                                                  separator):
    path = write(tmp_path, name, STRAY.replace("\t", separator))
    assert read_table(path, ["en", "de"], quoting="none") == LITERAL_PAIRS
    merged = read_table(path, ["en", "de"], quoting="csv")
    assert merged["de"][0] == MERGED_PAIRS["de"][0].format(separator)
    assert merged["en"] == MERGED_PAIRS["en"]
    assert capsys.readouterr().err == ""
    if separator == "\t":  # a stray quote: read literally, and said so
        assert read_table(path, ["en", "de"]) == LITERAL_PAIRS
        note = capsys.readouterr().err.strip()
        assert note.endswith(
            "stray.tsv, lines 2-3: read without quoting (its quote "
            "characters are literal text), as a quoted field would merge "
            "these rows into one; pass --quoting csv if the multi-line field "
            "is intended")
        assert len(note.splitlines()) == 1
    else:  # a spreadsheet's multi-line cell, or a stray quote: refused
        with pytest.raises(ValueError) as error:
            read_table(path, ["en", "de"])
        assert str(error.value) == (
            f"{path}, lines 2-3: a quoted field spans these lines, each a "
            "whole row read literally, and would merge them into one; pass "
            "--quoting none to read quotes as literal text, or --quoting csv "
            "if the multi-line field is intended")


def test_a_tsv_that_quotes_elsewhere_is_refused_not_guessed(tmp_path):
    # Line 2 quotes a tab, so the file cannot be read literally.
    path = write(tmp_path, "mixed.tsv",
                 'en\tde\n"a\ttab"\tb\n' + STRAY.split("\n", 1)[1])
    with pytest.raises(ValueError, match=r"mixed.tsv, lines 3-4: a quoted "
                       r"field spans these lines.*--quoting none"):
        read_table(path, ["en", "de"])
    assert len(read_table(path, ["en"], quoting="csv")["en"]) == 3


def test_every_merge_is_named(tmp_path):
    rows = "".join(f"w{i}\t\"x{i}\ny{i}\tz{i}\"\n" for i in range(5))
    path = write(tmp_path, "many.csv", "en,de\n" + rows.replace("\t", ","))
    with pytest.raises(ValueError, match=r"many.csv, lines 2-3, 4-5, 6-7 "
                       "and 2 more: "):
        read_table(path, ["en"])
    path = write(tmp_path, "two.csv", "en,de\n" + rows[:rows.index("w2")]
                 .replace("\t", ","))
    with pytest.raises(ValueError, match=r"two.csv, lines 2-3 and 4-5: "):
        read_table(path, ["en"])


@pytest.mark.parametrize("name", ["cells.csv", "cells.tsv"])
def test_a_line_break_inside_a_cell_is_read_as_csv(tmp_path, capsys, name):
    # Spreadsheets write such cells; their lines are not whole rows.
    separator = "," if name.endswith(".csv") else "\t"
    path = write(tmp_path, name, "id,note\n1,\"Dear John\nthanks\"\n"
                 "2,\"a\nb\nc\"\n".replace(",", separator))
    assert read_table(path, ["note"])["note"] == ["Dear John\nthanks",
                                                  "a\nb\nc"]
    assert capsys.readouterr().err == ""
