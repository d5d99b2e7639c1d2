"""Where training text comes from: a file, a folder of files, or TFDS.

`load_text(source)` returns a source's whole text (a TFDS dataset: one
split); `load_text_splits(source)` returns `(train_text, validation_text)`:

- a text file: its first 90% of characters train, the last 10% validate
  (nanoGPT's split; `validation_fraction` changes it);
- a folder: every regular file below it (sorted by path, hidden files
  skipped) concatenated, then split the same way;
- a TensorFlow Datasets name such as `tiny_shakespeare`: its own `train`
  and `validation` splits (`test` if it has no `validation`);
- with a separate validation source (`--val`), the whole of each.

A source is looked up in this order: a path that exists as given; a TFDS
name; a path inside the data directory (`--data-dir` or `TFZOO_DATA_DIR`).
"""

import os
import re
import sys

DATA_DIR_VARIABLE = "TFZOO_DATA_DIR"
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-z0-9_]+)?(:[0-9.*]+)?$")


def data_dir(path=None):
    """The data directory: `path`, else `$TFZOO_DATA_DIR`, else `None`."""
    return path or os.environ.get(DATA_DIR_VARIABLE) or None


def check_data_dir(directory=None):
    """`ValueError` if the data directory (`directory`, else
    `$TFZOO_DATA_DIR`) is named but is no folder."""
    if directory:
        name = f"--data-dir {directory}"
    else:
        directory = os.environ.get(DATA_DIR_VARIABLE)
        name = f"{DATA_DIR_VARIABLE}={directory}"
    if directory and not os.path.isdir(directory):
        raise ValueError(
            f"{name}: no such folder; it names the folder that holds the "
            "datasets (e.g. tiny_shakespeare/input.txt); online, leave it "
            "out and TensorFlow Datasets downloads them")


def check_source(source, directory=None):
    """The local file or folder that `source` names, None for a TFDS
    dataset's name; checked without loading TensorFlow (a TFDS dataset not
    yet prepared: its files are on disk or reachable).

    Raises:
        ValueError: neither an existing path nor a TFDS dataset, or a
            dataset that cannot be downloaded.
    """
    path = resolve_path(source, directory)
    if path is None and not _TFDS_NAME.match(source):
        raise ValueError(f"{source}: no such file or folder")
    if path is None:
        import tensorflow_datasets as tfds  # without TensorFlow

        try:
            builder = tfds.builder(source)
        except tfds.core.registered.DatasetNotFoundError:
            raise ValueError(f"{source}: no such file or folder, nor TFDS "
                             "dataset") from None
        check_downloadable(builder, directory)
    return path


def resolve_path(source, directory=None):
    """The local file or folder that `source` names, or `None`."""
    if os.path.exists(source):
        return source
    directory = data_dir(directory)
    if directory and not os.path.isabs(source):
        candidate = os.path.join(directory, source)
        if os.path.exists(candidate):
            return candidate
    return None


UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_text_file(path):
    """Reads a UTF-8 text file as people's tools save it.

    A leading byte-order mark (Excel's "CSV UTF-8", Notepad) is dropped,
    and Windows line ends (CRLF) become `"\n"`.

    Raises:
        ValueError: the file is UTF-16 (Excel's "Unicode text") or not
            UTF-8, named with the file.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(UTF16_BOMS):
        raise ValueError(
            f"{path} is UTF-16 text (as Excel's \"Unicode text\" saves it); "
            "save it as UTF-8")
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM):]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path} is not UTF-8 text (invalid byte at offset {error.start})"
        ) from None
    return text.replace("\r\n", "\n")


def read_text_folder(path):
    """Concatenates every non-hidden regular file below `path`."""
    files = []
    for root, dirs, names in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [
            os.path.join(root, name)
            for name in sorted(names)
            if not name.startswith(".")
        ]
    if not files:
        raise ValueError(f"the folder {path} holds no files")
    return "".join(read_text_file(name) for name in files)


def split_text(text, validation_fraction=0.1):
    """First `1 - validation_fraction` of the characters, then the rest."""
    if not 0 < validation_fraction < 1:
        raise ValueError("validation_fraction must be between 0 and 1")
    cut = int(len(text) * (1 - validation_fraction))
    return text[:cut], text[cut:]


def load_tfds_text(name, directory=None, split="train"):
    """One split of a TFDS dataset as text, examples joined by "\\n".

    Args:
        name: str, a TFDS name such as `tiny_shakespeare`.
        directory: str or None, the data directory.
        split: `"train"` or `"validation"` (the dataset's `test` split if it
            has no `validation`).

    Returns:
        The text, or `None` if TFDS has no dataset of that name.

    Offline, a dataset that TFDS downloads from a URL (like
    `tiny_shakespeare`) accepts the file as a manual download from
    `<data dir>/<dataset name>/`, e.g. `tiny_shakespeare/input.txt`.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name)
    except tfds.core.registered.DatasetNotFoundError:
        return None
    prepare_tfds(builder, directory)

    splits = builder.info.splits
    if split == "validation" and "validation" not in splits:
        split = "test"
    text_feature = next(
        key
        for key, feature in builder.info.features.items()
        # tf_dtype, not dtype: TFDS logs a deprecation warning for `dtype`.
        if getattr(feature, "tf_dtype", None) is not None
        and feature.tf_dtype.name == "string"
    )
    dataset = builder.as_dataset(split=split)
    return "\n".join(
        example[text_feature].decode("utf-8")
        for example in tfds.as_numpy(dataset)
    )


# Seconds to wait for a dataset's server before calling it unreachable.
CONNECT_TIMEOUT = 5


def prepare_tfds(builder, directory=None):
    """Downloads and prepares a TFDS dataset once, quietly.

    Files already in `<data dir>/<dataset name>/` (a manual download, e.g.
    `tiny_shakespeare/input.txt`) are used as they are; the others are
    checked first (`check_downloadable`).

    Raises:
        ValueError: a file is neither on disk nor reachable.
    """
    if _is_prepared(builder):
        return
    import contextlib
    import io

    import tensorflow_datasets as tfds

    manual_dir, missing = check_downloadable(builder, directory)
    config = (tfds.download.DownloadConfig(manual_dir=manual_dir)
              if manual_dir else None)
    # TFDS prints its own lines and MiB/s bars, even for a local file.
    tfds.display_progress_bar(bool(missing))
    print(f"Preparing the TFDS dataset {builder.name} (once)...",
          file=sys.stderr)
    with contextlib.redirect_stdout(io.StringIO()):
        builder.download_and_prepare(download_config=config)


def _is_prepared(builder):
    # Not builder.is_prepared(): it logs a warning for a missing folder.
    return os.path.isfile(os.path.join(builder.data_dir,
                                       "dataset_info.json"))


def check_downloadable(builder, directory=None):
    """`(manual_dir, missing)`: the dataset's folder under the data
    directory (None if it has none) and the `(url, filename)` of each file
    not in it, each asked for once with a short timeout: an unreachable
    one is refused at once, in one line naming the file to put where,
    instead of TFDS retrying for minutes. Needs no TensorFlow.

    Raises:
        ValueError: a file is neither on disk nor reachable.
    """
    name = builder.name
    directory = data_dir(directory)
    manual_dir = directory and os.path.join(directory, name)
    if not (manual_dir and os.path.isdir(manual_dir)):
        manual_dir = None
    if _is_prepared(builder):
        return manual_dir, []
    present = set(os.listdir(manual_dir)) if manual_dir else set()
    missing = []
    for url, info in (builder.url_infos or {}).items():
        filename = info.filename or url.rsplit("/", 1)[-1]
        if filename not in present:
            missing.append((url, filename))
    for url, filename in missing:
        reason = unreachable(url)
        if reason:
            where = (f"under {directory}" if directory else "under a data "
                     "folder")
            raise ValueError(
                f"{name} is not on disk and cannot be downloaded ({reason}): "
                f"put {name}/{filename} {where}, and name that folder with "
                f"--data-dir (or ${DATA_DIR_VARIABLE})")
    return manual_dir, missing


def unreachable(url, timeout=CONNECT_TIMEOUT):
    """Why `url` cannot be fetched now (one request, no retries), or None.
    Proxies are read from the environment, as TFDS's downloads read
    them."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, method="HEAD")
    try:
        urllib.request.urlopen(request, timeout=timeout).close()
    except urllib.error.HTTPError:
        return None  # The server answered: the download will say more.
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        return str(reason) or type(reason).__name__
    return None


def is_tfds_name(source):
    """Whether `source` names a TFDS dataset (and no path as given)."""
    if os.path.exists(source) or not _TFDS_NAME.match(source):
        return False
    import tensorflow_datasets as tfds

    try:
        tfds.builder(source)
    except tfds.core.registered.DatasetNotFoundError:
        return False
    return True


def load_text(source, directory=None, split="train"):
    """The whole text of a file or folder, or one split of a TFDS dataset.

    Args:
        source: str, a path or a TFDS name (see the module docstring).
        directory: str or None, the data directory.
        split: `"train"` or `"validation"`: the TFDS split (a file or
            folder is read whole).

    Raises:
        ValueError: the source does not exist, is empty or is not UTF-8.
    """
    if is_tfds_name(source):
        return load_tfds_text(source, directory, split)
    path = resolve_path(source, directory)
    if path is None:
        raise ValueError(f"no such file or folder: {source}")
    if os.path.isdir(path):
        text = read_text_folder(path)
    else:
        text = read_text_file(path)
    if not text.strip():
        raise ValueError(f"{path} holds no text")
    return text


def load_text_splits(source, directory=None, validation_fraction=0.1,
                     validation_source=None):
    """`(train_text, validation_text)` for a path or a TFDS name.

    Without `validation_source`, a file or folder is split by
    `validation_fraction` (its last characters validate) and a TFDS dataset
    gives its own splits. With it, `source` trains whole (a TFDS dataset:
    its train split) and `validation_source` validates whole (a TFDS
    dataset: its validation split).

    Raises:
        ValueError: a source does not exist, is empty or is not UTF-8.

    Example:
    >>> train, val = load_text_splits("tiny_shakespeare/input.txt",
    ...                               directory="../shared/data")
    >>> len(train), len(val)
    (1003854, 111540)
    """
    if validation_source is not None:
        return (load_text(source, directory, "train"),
                load_text(validation_source, directory, "validation"))
    if is_tfds_name(source):
        return (load_tfds_text(source, directory, "train"),
                load_tfds_text(source, directory, "validation"))
    return split_text(load_text(source, directory), validation_fraction)
