"""Read a Hugging Face causal LM folder (llama or gpt2) as a `Checkpoint`.

    FOLDER/
      config.json                  model_type, sizes, rope_theta, ...
      model.safetensors            the weights (or model-0000N-of-0000M
                                   .safetensors and model.safetensors
                                   .index.json, sharded)
      tokenizer.json               the tokenizer (read by tfzoo.text)
      tokenizer_config.json        special tokens, maybe the chat template
      chat_template.jinja          the chat template (transformers v5)

Weights are read from the safetensors files with their own header (8
bytes of header length, a JSON header of name -> dtype, shape and byte
offsets, then the data), so that bfloat16 files read too: numpy has no
bfloat16, and the `safetensors` package reads its tensors into numpy only.
"""

import json
import os

import numpy as np

from tfzoo.models.checkpoint import Checkpoint, unsupported_architecture

CONFIG_FILE = "config.json"
# safetensors dtypes -> numpy; BF16 is widened by hand (`_read_tensor`).
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64,
           "BF16": np.uint16}


def read_json(path):
    """A JSON file, or a one-line `ValueError` naming it."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} does not read as JSON "
                         f"({' '.join(str(error).split())})") from None


def read_hf_folder(folder):
    """The `Checkpoint` in a Hugging Face folder of model type `llama` or
    `gpt2`, weights widened to float32.

    The rotary base is read from either place transformers may put it:
    `rope_theta` (up to v4) or `rope_parameters.rope_theta` (v5).

    Raises:
        ValueError: no `config.json`; another model type; rotary scaling
            (`rope_type` other than "default"); no safetensors file; a
            file cut short or damaged; a missing weight.
    """
    config_path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise ValueError(f"{folder} has no {CONFIG_FILE}: not a Hugging "
                         "Face model folder")
    config = read_json(config_path)
    model_type = config.get("model_type")
    if model_type == "llama":
        arguments = _llama_arguments(config, folder)
    elif model_type == "gpt2":
        arguments = _gpt2_arguments(config)
    else:
        raise unsupported_architecture(model_type, folder)
    weights = read_safetensors_folder(folder)
    if model_type == "gpt2" and "wte.weight" in weights:
        weights = {f"transformer.{name}": value
                   for name, value in weights.items()}
    # Absent from config.json, `tie_word_embeddings` is its config class's
    # default: False for `LlamaConfig`, True for `GPT2Config`.
    arguments["tie_embeddings"] = bool(config.get(
        "tie_word_embeddings", model_type == "gpt2")) or (
            "lm_head.weight" not in weights)
    tokenizer_config = {}
    path = os.path.join(folder, "tokenizer_config.json")
    if os.path.isfile(path):
        tokenizer_config = read_json(path)
    template = tokenizer_config.get("chat_template")
    if isinstance(template, list):  # named templates: take the default
        template = next((t.get("template") for t in template
                         if t.get("name") == "default"), None)
    path = os.path.join(folder, "chat_template.jinja")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            template = f.read()
    special = {}
    for role in ("bos", "eos"):
        token = tokenizer_config.get(f"{role}_token")
        if isinstance(token, dict):  # {"content": ..., "lstrip": ...}
            token = token.get("content")
        if token:
            special[role] = token
    return Checkpoint(model_type, arguments, weights, folder, template,
                      special)


def _llama_arguments(config, folder):
    heads = config["num_attention_heads"]
    rope = config.get("rope_parameters") or {}
    scaling = config.get("rope_scaling") or rope
    kind = scaling.get("rope_type") or scaling.get("type") or "default"
    if kind != "default":  # Llama 3.1's "llama3", "linear", "yarn", ...
        raise ValueError(f"{folder}: rotary scaling {kind!r} is not "
                         "supported; tfzoo reads plain rotary positions")
    return dict(
        vocabulary_size=config["vocab_size"],
        max_sequence_length=config.get("max_position_embeddings", 2048),
        num_layers=config["num_hidden_layers"],
        num_heads=heads,
        num_key_value_heads=config.get("num_key_value_heads") or heads,
        hidden_dim=config["hidden_size"],
        intermediate_dim=config["intermediate_size"],
        dropout=0.0,
        positional_embedding="rotary",
        rotary_max_wavelength=float(config.get(
            "rope_theta", rope.get("rope_theta", 10000.0))),
        use_bias=bool(config.get("attention_bias", False)),
        layer_norm_epsilon=float(config.get("rms_norm_eps", 1e-6)),
        normalization="rms_norm",
        feed_forward="swiglu",
    )


def _gpt2_arguments(config):
    width = config["n_embd"]
    return dict(
        vocabulary_size=config["vocab_size"],
        max_sequence_length=config.get("n_positions", config.get("n_ctx")),
        num_layers=config["n_layer"],
        num_heads=config["n_head"],
        hidden_dim=width,
        intermediate_dim=config.get("n_inner") or 4 * width,
        dropout=0.0,
        positional_embedding="learned",
        use_bias=True,
        layer_norm_epsilon=float(config.get("layer_norm_epsilon", 1e-5)),
    )


def read_safetensors_folder(folder):
    """Every tensor of the folder's safetensors files (one, or the shards
    its `model.safetensors.index.json` names), as float32 arrays.

    Raises:
        ValueError: no safetensors file; a file cut short or damaged.
    """
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.isfile(index):
        files = sorted(set(read_json(index)["weight_map"].values()))
    else:
        files = sorted(name for name in os.listdir(folder)
                       if name.endswith(".safetensors"))
    if not files:
        raise ValueError(f"{folder} has no .safetensors weights")
    weights = {}
    for name in files:
        weights.update(read_safetensors(os.path.join(folder, name)))
    return weights


def read_safetensors(path):
    """The tensors of one safetensors file, as float32 numpy arrays.

    Raises:
        ValueError: missing, cut short, damaged, or of a dtype other than
            float16/32/64 or bfloat16.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
        length = int.from_bytes(data[:8], "little")
        header = json.loads(data[8:8 + length])
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a readable safetensors file "
                         f"({' '.join(str(error).split())})") from None
    body = memoryview(data)[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        start, end = entry["data_offsets"]
        if end > len(body) or entry["dtype"] not in _DTYPES:
            problem = ("it is cut short" if end > len(body)
                       else f"dtype {entry['dtype']} is not read")
            raise ValueError(f"{path}: tensor {name} cannot be read "
                             f"({problem})")
        tensors[name] = _read_tensor(body[start:end], entry)
    return tensors


def _read_tensor(raw, entry):
    array = np.frombuffer(raw, _DTYPES[entry["dtype"]])
    if entry["dtype"] == "BF16":  # the top half of a float32's bits
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array.astype(np.float32).reshape(entry["shape"])
