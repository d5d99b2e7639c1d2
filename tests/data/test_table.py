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
