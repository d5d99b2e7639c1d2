import os

import pytest

from tfzoo.data import load_text_splits, split_text


def test_file_split_is_first_90_percent_then_last_10(text_file, small_text):
    train, validation = load_text_splits(text_file)
    assert train + validation == small_text
    assert len(train) == int(len(small_text) * 0.9)


def test_validation_fraction(text_file, small_text):
    train, validation = load_text_splits(text_file, validation_fraction=0.25)
    assert len(validation) == len(small_text) - int(len(small_text) * 0.75)


def test_folder_concatenates_files_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "a.txt").write_text("alpha\n" * 10)
    (tmp_path / "b" / "c.txt").write_text("gamma\n" * 10)
    (tmp_path / ".hidden").write_text("never")
    # A hidden folder (.git, .ipynb_checkpoints) is skipped whole; a
    # mutation test found this untested.
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.txt").write_text("never either")
    train, validation = load_text_splits(str(tmp_path), validation_fraction=0.5)
    assert train + validation == "alpha\n" * 10 + "gamma\n" * 10


def test_relative_path_found_in_data_dir(tmp_path, monkeypatch):
    (tmp_path / "corpus.txt").write_text("some words " * 20)
    monkeypatch.setenv("TFZOO_DATA_DIR", str(tmp_path))
    train, _ = load_text_splits("corpus.txt")
    assert train.startswith("some words")
    # The data_dir argument alone does it too (a mutant that dropped it
    # survived while the variable was set).
    monkeypatch.delenv("TFZOO_DATA_DIR")
    train, _ = load_text_splits("corpus.txt", str(tmp_path))
    assert train.startswith("some words")


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1])
def test_validation_fraction_must_be_strictly_between_0_and_1(fraction):
    with pytest.raises(ValueError, match="^validation_fraction must be "
                       "between 0 and 1$"):
        split_text("some text", fraction)


@pytest.mark.parametrize(
    "content, message",
    [(None, "no such file or folder"), (b"", "holds no text"),
     (b"  \n\n", "holds no text"), (b"caf\xe9 latte", "not UTF-8")],
)
def test_bad_sources(tmp_path, content, message):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_text_splits(str(path))


def test_empty_folder(tmp_path):
    with pytest.raises(ValueError, match="holds no files"):
        load_text_splits(str(tmp_path))


def test_tiny_shakespeare_file_and_tfds(shared_data_dir, caplog):
    train, validation = load_text_splits(
        os.path.join("tiny_shakespeare", "input.txt"), shared_data_dir)
    assert (len(train), len(validation)) == (1003854, 111540)
    # The TFDS dataset, built offline from the same file as a manual
    # download: its own 90/5/5 split.
    train, validation = load_text_splits("tiny_shakespeare", shared_data_dir)
    assert (len(train), len(validation)) == (1003854, 55770)
    assert train.startswith("First Citizen:")
    # Validation is TFDS's "validation" split (the 5% after training),
    # not its "test" split (the last 5%, of the same length).
    with open(os.path.join(shared_data_dir, "tiny_shakespeare", "input.txt"),
              encoding="utf-8") as f:
        text = f.read()
    assert validation == text[1003854:1003854 + 55770]
    # No deprecation chatter from TFDS (tfzoo reads `tf_dtype`).
    assert "is deprecated" not in caplog.text
    # A separate validation source is read whole; a TFDS one gives its
    # validation split.
    path = os.path.join("tiny_shakespeare", "input.txt")
    train, validation = load_text_splits(path, shared_data_dir,
                                         validation_source="tiny_shakespeare")
    assert (len(train), len(validation)) == (len(text), 55770)


def test_a_validation_file_is_read_whole(tmp_path):
    (tmp_path / "train.txt").write_text("a" * 100)
    (tmp_path / "valid.txt").write_text("b" * 30)
    assert load_text_splits(str(tmp_path / "train.txt"),
                            validation_source=str(tmp_path / "valid.txt"),
                            ) == ("a" * 100, "b" * 30)
    with pytest.raises(ValueError, match="no such file or folder: nope"):
        load_text_splits(str(tmp_path / "train.txt"), validation_source="nope")


def test_text_as_tools_save_it(tmp_path):
    # A byte-order mark is dropped, CRLF is a newline; UTF-16 is named.
    path = tmp_path / "notepad.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b"To be,\r\nor not to be.\r\n" * 10)
    train, validation = load_text_splits(str(path), validation_fraction=0.5)
    assert train + validation == "To be,\nor not to be.\n" * 10
    path.write_bytes("To be.\n".encode("utf-16") * 10)
    with pytest.raises(ValueError, match="notepad.txt is UTF-16 text"):
        load_text_splits(str(path))



def test_an_unreachable_dataset_is_refused_at_once_naming_the_file(
        tmp_path):
    # No network: a proxy that refuses every connection. Nothing cached:
    # an empty TFDS folder. One line within seconds, no retries.
    import subprocess
    import sys
    import time

    env = {**os.environ, "HTTPS_PROXY": "http://127.0.0.1:9",
           "HTTP_PROXY": "http://127.0.0.1:9", "TFZOO_DATA_DIR": "",
           "TFDS_DATA_DIR": str(tmp_path / "tfds")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tfzoo.cli", "train", "--data",
         "tiny_shakespeare", "--steps", "1", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=60)
    assert time.perf_counter() - start < 15
    assert result.returncode == 1
    error = result.stderr.strip()
    assert len(error.splitlines()) == 1, error
    assert "tiny_shakespeare/input.txt under a data folder" in error
    assert "--data-dir" in error and "Retrying" not in error
    assert not (tmp_path / "r").exists()


def test_a_manual_download_is_used_without_asking_the_network(
        tmp_path, monkeypatch):
    import tensorflow_datasets as tfds

    from tfzoo.data import sources

    asked = []
    monkeypatch.setattr(sources, "unreachable",
                        lambda url: asked.append(url) or "offline")
    # Nothing prepared: an empty TFDS folder.
    builder = tfds.builder("tiny_shakespeare", data_dir=str(tmp_path / "t"))
    with pytest.raises(ValueError, match="put tiny_shakespeare/input.txt "
                       f"under {tmp_path}, and name that folder with "
                       "--data-dir"):
        sources.check_downloadable(builder, str(tmp_path))
    assert len(asked) == 1
    (tmp_path / "tiny_shakespeare").mkdir()
    (tmp_path / "tiny_shakespeare" / "input.txt").write_text("Some text.")
    manual_dir, missing = sources.check_downloadable(builder, str(tmp_path))
    assert (manual_dir, missing) == (str(tmp_path / "tiny_shakespeare"), [])
    assert len(asked) == 1
    with pytest.raises(ValueError, match="no such file or folder, nor TFDS"):
        sources.check_source("no_such_dataset", str(tmp_path))
