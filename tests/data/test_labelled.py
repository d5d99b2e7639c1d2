"""Labelled TSV/CSV files and the bucketed classification pipeline."""

import csv

import numpy as np
import pytest

from tfzoo.data.labelled import (LabelledText, classification_dataset,
                                 label_ids, label_names, read_labelled)
from tfzoo.text.bert_preprocessor import SPECIAL_TOKENS, BertPreprocessor


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_sst2_layout_with_defaults(tmp_path):
    path = write(tmp_path, "train.tsv",
                 'sentence\tlabel\nit \'s a "gem" \t1\ndull , dull \t0\n')
    data = read_labelled(path)
    assert data.texts == ['it \'s a "gem" ', "dull , dull "]  # no quoting
    assert data.labels == ["1", "0"] and data.pairs is None


def test_csv_with_chosen_columns_and_pairs(tmp_path):
    path = write(tmp_path, "pairs.csv",
                 'id,premise,hypothesis,gold\n1,"A man, tall",A man,yes\n'
                 "2,Rain,Sun,no\n")
    data = read_labelled(path, text_column="premise", label_column="gold",
                         pair_column="hypothesis")
    assert data.texts == ["A man, tall", "Rain"]
    assert data.pairs == ["A man", "Sun"]
    assert label_names(data) == ["no", "yes"]


def test_data_dir_is_searched(tmp_path, monkeypatch):
    write(tmp_path, "d.tsv", "sentence\tlabel\nok\t1\n")
    monkeypatch.setenv("TFZOO_DATA_DIR", str(tmp_path))
    assert read_labelled("d.tsv").texts == ["ok"]


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "is empty"),
        ("sentence\tlabel\n", "has a header but no examples"),
        ("text\tlabel\nx\t1\n", "has no column sentence"),
        ("sentence\tlabel\nfine\t1\nbroken\n", "bad.tsv, line 3: 1 field "
         "where the header has 2"),
        ("sentence\tlabel\n\t1\n", "line 2: the 'sentence' field is missing"),
    ],
)
def test_bad_files_are_named(tmp_path, content, message):
    path = write(tmp_path, "bad.tsv", content)
    with pytest.raises(ValueError, match=message):
        read_labelled(path)


def test_missing_file_and_not_utf8(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_labelled(str(tmp_path / "nope.tsv"))
    path = tmp_path / "latin1.tsv"
    path.write_bytes("sentence\tlabel\ncaf\xe9\t1\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        read_labelled(str(path))


def test_labels_sorted_numerically_and_unknown_labels_refused():
    data = LabelledText(["a", "b", "c"], ["10", "2", "2"])
    assert label_names(data) == ["2", "10"]
    assert list(label_ids(data, ["2", "10"], "x")) == [1, 0, 0]
    with pytest.raises(ValueError, match=r"label\(s\) '10' are not among "
                       "the classes '0', '1', '2'"):
        label_ids(data, ["0", "1", "2"], "x")


def test_batches_are_bucketed_by_length():
    vocabulary = list(SPECIAL_TOKENS) + ["short", "long", "word"]
    preprocessor = BertPreprocessor(vocabulary, sequence_length=64)
    texts = ["short"] * 8 + [" ".join(["long"] * 40)] * 8
    data = LabelledText(texts, ["0"] * 16)
    batches = list(classification_dataset(
        preprocessor, data, np.arange(16, dtype=np.int32), batch_size=4,
        shuffle=True))
    widths = sorted(inputs["token_ids"].shape[1] for inputs, _ in batches)
    # Short texts (3 tokens) are padded to 16, long ones (42) to 64.
    assert widths == [16, 16, 64, 64]
    for inputs, indices in batches:
        for row, index in zip(inputs["token_ids"].numpy(), indices.numpy()):
            real = int((row != preprocessor.pad_id).sum())
            assert real == (3 if index < 8 else 42)


def test_tfds_names_read_their_features(monkeypatch):
    # Offline there is no glue/sst2 to download; stand in for its builder
    # with a dataset of the same features to check how it is read.
    import tensorflow as tf
    import tensorflow_datasets as tfds

    calls = []

    class FakeBuilder:
        def __init__(self, name):
            self.name = name

        def as_dataset(self, split):
            calls.append((self.name, split))
            return tf.data.Dataset.from_tensor_slices({
                "sentence": ["a fine film", "dull"], "label": [1, 0],
                "idx": [0, 1]})

    from tfzoo.data import labelled

    monkeypatch.setattr(tfds, "builder", FakeBuilder)
    monkeypatch.setattr(labelled, "prepare_tfds",
                        lambda builder, data_dir: None)
    data = read_labelled("glue/sst2", split="validation")
    assert calls == [("glue/sst2", "validation")]
    assert data.texts == ["a fine film", "dull"]
    assert data.labels == ["1", "0"]


# Files as Python's csv module and spreadsheets write them.

def test_quoted_fields_hold_separators_newlines_and_quotes(tmp_path):
    rows = [["sentence", "label"],
            ["a tab\there, a comma", "pos"],
            ["two\nlines and \"quotes\"", "neg"],
            ["plain", "pos"]]
    for name, delimiter in (("quoted.tsv", "\t"), ("quoted.csv", ",")):
        path = tmp_path / name
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f, delimiter=delimiter).writerows(rows)
        data = read_labelled(str(path))
        assert data.texts == [row[0] for row in rows[1:]], name
        assert data.labels == ["pos", "neg", "pos"], name


@pytest.mark.parametrize("row, fields", [
    ("pos-ish text\twith a\ttab\tpos", 4),  # the label would have been lost
    ("no label at all", 1),
])
def test_a_ragged_row_names_file_line_and_counts(tmp_path, row, fields):
    path = write(tmp_path, "ragged.tsv",
                 f"sentence\tlabel\nfine\tpos\n{row}\nalso fine\tneg\n")
    with pytest.raises(ValueError, match=(
            rf"ragged.tsv, line 3: {fields} fields? where the header has 2")):
        read_labelled(path)


def test_line_numbers_count_the_lines_of_quoted_newlines(tmp_path):
    path = write(tmp_path, "multi.csv",
                 'sentence,label\n"one\ntwo\nthree",pos\nbroken\n')
    with pytest.raises(ValueError, match="multi.csv, line 5: 1 field "):
        read_labelled(path)


def test_skip_bad_rows_skips_and_counts_in_one_line(tmp_path, capsys):
    path = write(tmp_path, "ragged.tsv",
                 "sentence\tlabel\nfine\tpos\nbad\tx\ty\nworse\n"
                 "good\tneg\n")
    data = read_labelled(path, skip_bad_rows=True)
    assert data.texts == ["fine", "good"] and data.labels == ["pos", "neg"]
    error = capsys.readouterr().err.strip()
    assert error.endswith("ragged.tsv: skipped 2 of 4 rows with other than "
                          "2 fields")
    assert len(error.splitlines()) == 1
    only_bad = write(tmp_path, "bad.tsv", "sentence\tlabel\nx\ty\tz\n")
    with pytest.raises(ValueError, match="no examples with 2 fields"):
        read_labelled(only_bad, skip_bad_rows=True)


def test_byte_order_mark_and_windows_line_ends(tmp_path):
    # Excel's "CSV UTF-8": a byte-order mark, CRLF line ends.
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbfsentence,label\r\ngreat,1\r\n"
                     b"\"two\r\nlines\",0\r\n")
    data = read_labelled(str(path))
    assert data.texts == ["great", "two\nlines"] and data.labels == ["1", "0"]


def test_utf16_is_named(tmp_path):
    # Excel's "Unicode text".
    path = tmp_path / "unicode.txt"
    path.write_bytes("sentence\tlabel\nok\t1\n".encode("utf-16"))
    with pytest.raises(ValueError, match="unicode.txt is UTF-16 text"):
        read_labelled(str(path))


def test_labels_are_read_without_surrounding_spaces(tmp_path):
    path = write(tmp_path, "spaces.tsv",
                 "sentence\tlabel\na\t1 \nb\t 1\nc\t0\n")
    data = read_labelled(path)
    assert data.labels == ["1", "1", "0"]
    assert label_names(data) == ["0", "1"]



@pytest.mark.parametrize("name", ["stray.tsv", "stray.csv"])
def test_a_stray_quote_does_not_merge_examples(tmp_path, capsys, name):
    # A quote opens on line 2 and closes on line 3 (tfzoo.data.table).
    separator = "," if name.endswith(".csv") else "\t"
    path = write(tmp_path, name, 'sentence\tlabel\nGreat\t"pos\nAwful\tneg"\n'
                 "Fine\tpos\n".replace("\t", separator))
    literal = read_labelled(path, quoting="none")
    assert literal.texts == ["Great", "Awful", "Fine"]
    assert literal.labels == ['"pos', 'neg"', "pos"]
    merged = read_labelled(path, quoting="csv")
    assert merged.texts == ["Great", "Fine"]
    assert merged.labels == [f"pos\nAwful{separator}neg", "pos"]
    capsys.readouterr()
    if separator == "\t":
        assert read_labelled(path).labels == literal.labels
        assert "lines 2-3: read without quoting" in capsys.readouterr().err
    else:
        with pytest.raises(ValueError, match=r"stray.csv, lines 2-3: .*"
                           r"--quoting none .* --quoting csv"):
            read_labelled(path)
