import numpy as np
import pytest

from tfzoo.data.parallel import (ParallelText, count_tokens, encode_pairs,
                                 read_parallel, token_array,
                                 translation_dataset)
from tfzoo.text.subword_tokenizer import train_subword_tokenizer

BOS, EOS, PAD = 1, 2, 3


class WordTokenizer:
    """One id per word, from 10: enough to check the layout."""

    def tokenize(self, texts):
        return [[10 + len(word) for word in text.decode().split()]
                for text in texts.numpy()]


def test_teacher_forcing_layout_and_truncation(capsys):
    pairs = ParallelText(["a bb", "a bb ccc dddd eeeee", "a"],
                         ["x yy", "x", "v ww xxx yyyy zzzzz"])
    encoded = encode_pairs(WordTokenizer(), pairs, 4, BOS, EOS, "pairs.tsv")
    assert encoded.encoder_token_ids == [[11, 12, EOS], [11, 12, 13, EOS],
                                         [11, EOS]]
    assert encoded.decoder_token_ids == [[BOS, 11, 12], [BOS, 11],
                                         [BOS, 11, 12, 13]]
    # A cut target continues where it is cut, without [EOS].
    assert encoded.targets == [[11, 12, EOS], [11, EOS], [11, 12, 13, 14]]
    assert count_tokens(encoded) == (9, 9)
    assert capsys.readouterr().err.strip() == (
        "pairs.tsv: 2 of 3 pairs are longer than 4 tokens; truncated")


def test_batches_are_padded_buckets_of_similar_length():
    short = [[5, EOS]] * 3
    long = [[5] * 20 + [EOS]] * 2
    targets = [[6, EOS]] * 3 + [[6] * 18 + [EOS]] * 2
    from tfzoo.data.parallel import EncodedPairs
    pairs = EncodedPairs(short + long,
                         [[BOS] + t[:-1] for t in targets], targets)
    dataset = translation_dataset(pairs, PAD, batch_size=4,
                                  max_sequence_length=24)
    batches = list(dataset)
    assert int(dataset.cardinality()) == len(batches) == 2
    widths = sorted(b[0]["encoder_token_ids"].shape[1] for b in batches)
    assert widths == [16, 24]
    for inputs, target in batches:
        mask = inputs["encoder_padding_mask"].numpy()
        ids = inputs["encoder_token_ids"].numpy()
        assert np.all((ids == PAD) == (mask == 0))
        assert target.shape == inputs["decoder_token_ids"].shape
        assert np.all(target.numpy()[:, -1] == PAD) or target.shape[1] == 24


def test_files_read_as_people_save_them(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"\xef\xbb\xbfen,de\r\n\"Hello, world\",Hallo\r\n"
                     b"bye,tsch\xc3\xbcss\r\n")
    pairs = read_parallel(str(path))
    assert pairs.sources == ["Hello, world", "bye"]
    assert pairs.targets == ["Hallo", "tschüss"]
    (tmp_path / "u16.tsv").write_bytes("en\tde\na\tb\n".encode("utf-16"))
    with pytest.raises(ValueError, match="UTF-16"):
        read_parallel(str(tmp_path / "u16.tsv"))


def test_chosen_columns_and_bad_rows(tmp_path, capsys):
    path = tmp_path / "p.tsv"
    path.write_text("id\tpt\ten\n1\tolá\thello\n2\tbroken\n3\tsim\tyes\n",
                    encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: 2 fields"):
        read_parallel(str(path), source_column="pt", target_column="en")
    pairs = read_parallel(str(path), source_column="pt", target_column="en",
                          skip_bad_rows=True)
    assert pairs == ParallelText(["olá", "sim"], ["hello", "yes"])
    assert "skipped 1 of 3 rows" in capsys.readouterr().err
    with pytest.raises(ValueError, match="both 'en'"):
        read_parallel(str(path), source_column="en", target_column="en")
    with pytest.raises(ValueError, match="no such file"):
        read_parallel(str(tmp_path / "none.tsv"))


def test_the_shared_corpus(shared_data_dir):
    train = read_parallel("translation_en_de/train.tsv", shared_data_dir)
    dev = read_parallel("translation_en_de/dev.tsv", shared_data_dir)
    assert len(train.sources) == 29750 and len(dev.sources) == 1639
    assert train.sources[2] == '"#expires" is obsolescent; use "Expires"'


def test_real_tokenizer_round_trip_of_the_layout():
    text = "open the file\nDatei öffnen\n" * 30
    tokenizer = train_subword_tokenizer(text, 300, pad_id=PAD)
    assert [tokenizer.token_to_id(t) for t in ("<s>", "</s>", "<pad>")] == [
        BOS, EOS, PAD]
    encoded = encode_pairs(tokenizer, ParallelText(["open the file"],
                                                   ["Datei öffnen"]),
                           32, BOS, EOS)
    assert tokenizer.detokenize(encoded.targets[0][:-1]) == "Datei öffnen"
    assert token_array([[1, 2], [3]], PAD).tolist() == [[1, 2], [3, PAD]]


def test_tfds_translation_names_read_their_features(monkeypatch):
    # Offline there is no ted_hrlr_translate to download; stand in for
    # its builder with a dataset of the same features.
    import tensorflow as tf
    import tensorflow_datasets as tfds

    calls = []

    class FakeBuilder:
        def __init__(self, name):
            self.name = name

        def as_dataset(self, split):
            calls.append((self.name, split))
            return tf.data.Dataset.from_tensor_slices(
                {"pt": ["olá mundo", "adeus"], "en": ["hello world", "bye"]})

    from tfzoo.data import parallel

    monkeypatch.setattr(tfds, "builder", FakeBuilder)
    monkeypatch.setattr(parallel, "prepare_tfds",
                        lambda builder, data_dir: None)
    pairs = read_parallel("ted_hrlr_translate/pt_to_en", split="validation",
                          source_column="pt", target_column="en")
    assert calls == [("ted_hrlr_translate/pt_to_en", "validation")]
    assert pairs == ParallelText(["olá mundo", "adeus"],
                                 ["hello world", "bye"])


@pytest.mark.parametrize("name", ["stray.tsv", "stray.csv"])
def test_a_stray_quote_does_not_merge_pairs(tmp_path, capsys, name):
    # The file: 3 pairs, not 2 (tfzoo.data.table).
    separator = "," if name.endswith(".csv") else "\t"
    path = tmp_path / name
    path.write_text('en\tde\nOpen\t"Öffnen\nClose\tSchließen"\n'
                    "Save\tSpeichern\n".replace("\t", separator),
                    encoding="utf-8")
    literal = ParallelText(["Open", "Close", "Save"],
                           ['"Öffnen', 'Schließen"', "Speichern"])
    assert read_parallel(str(path), quoting="none") == literal
    assert read_parallel(str(path), quoting="csv") == ParallelText(
        ["Open", "Save"], [f"Öffnen\nClose{separator}Schließen",
                           "Speichern"])
    capsys.readouterr()
    if separator == "\t":
        assert read_parallel(str(path)) == literal
        assert "lines 2-3: read without quoting" in capsys.readouterr().err
    else:
        with pytest.raises(ValueError, match=r"stray.csv, lines 2-3: .*"
                           r"--quoting none .* --quoting csv"):
            read_parallel(str(path))
