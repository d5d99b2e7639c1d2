"""Labelled TSV/CSV files and the bucketed classification pipeline."""

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
        ("sentence\tlabel\nfine\t1\nbroken\n", "line 3: the 'label' field "
         "is missing"),
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
    # Offline there is no glue/sst2 to download; stand in for tfds.load
    # with a dataset of the same features to check how it is read.
    import tensorflow as tf
    import tensorflow_datasets as tfds

    calls = []

    def fake_load(name, split):
        calls.append((name, split))
        return tf.data.Dataset.from_tensor_slices({
            "sentence": ["a fine film", "dull"], "label": [1, 0],
            "idx": [0, 1]})

    monkeypatch.setattr(tfds, "load", fake_load)
    data = read_labelled("glue/sst2", split="validation")
    assert calls == [("glue/sst2", "validation")]
    assert data.texts == ["a fine film", "dull"]
    assert data.labels == ["1", "0"]
