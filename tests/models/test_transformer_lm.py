import keras
import numpy as np
import pytest

from tests.models import llama_reference
from tfzoo.layers import gelu_approximate
from tfzoo.models import PRESETS, TransformerLM, build_model

VOCAB = 30


def small_model(**kwargs):
    arguments = dict(vocabulary_size=VOCAB, max_sequence_length=16,
                     num_layers=2, num_heads=2, hidden_dim=16)
    return TransformerLM(**{**arguments, **kwargs})


def token_ids(batch=2, length=16, seed=0):
    return np.random.default_rng(seed).integers(0, VOCAB, (batch, length))


def modern_model(**kwargs):
    """SmolLM2's shape, tiny: 2 blocks, width 32, 4 heads and 2 key/value
    heads of 8, RMSNorm, SwiGLU, no biases, rotary base 100000, tied."""
    arguments = dict(vocabulary_size=VOCAB, max_sequence_length=16,
                     num_layers=2, num_heads=4, hidden_dim=32,
                     intermediate_dim=48, positional_embedding="rotary",
                     use_bias=False, normalization="rms_norm",
                     feed_forward="swiglu", num_key_value_heads=2,
                     rotary_max_wavelength=100000)
    return TransformerLM(**{**arguments, **kwargs})


def randomize(model, seed=0):
    """Weights far from their initialization (norm scales around 1), so
    that the comparison with numpy exercises every one."""
    rng = np.random.default_rng(seed)
    for weight in model.weights:
        center = 1.0 if weight.path.endswith("scale") else 0.0
        weight.assign(center + rng.normal(scale=0.2, size=weight.shape))


def test_logits_shape_and_dtype():
    logits = small_model()(token_ids())
    assert logits.shape == (2, 16, VOCAB)
    assert logits.dtype == "float32"


@pytest.mark.parametrize("positional", ["learned", "rotary"])
def test_model_is_causal(positional):
    model = small_model(positional_embedding=positional)
    ids = token_ids()
    before = keras.ops.convert_to_numpy(model(ids))
    for t in range(15):
        changed = ids.copy()
        changed[:, t + 1] = (changed[:, t + 1] + 1) % VOCAB
        after = keras.ops.convert_to_numpy(model(changed))
        np.testing.assert_array_equal(after[:, : t + 1], before[:, : t + 1])
        assert not np.allclose(after[:, t + 1], before[:, t + 1])


def test_tied_head_shares_the_embedding():
    tied, untied = small_model(), small_model(tie_embeddings=False)
    assert untied.count_params() - tied.count_params() == 16 * VOCAB
    weight_names = [w.path for w in tied.weights]
    assert not any("reverse" in name for name in weight_names)


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "rotary"])
def test_keras_round_trip(tmp_path, positional):
    model = small_model(dropout=0.1, positional_embedding=positional)
    ids = token_ids()
    path = str(tmp_path / "gpt.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, TransformerLM)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(ids)),
        keras.ops.convert_to_numpy(model(ids)),
    )


def test_rotary_model_has_no_position_table():
    learned, rotary = small_model(), small_model(positional_embedding="rotary")
    assert rotary.position_embedding is None
    assert learned.count_params() - rotary.count_params() == 16 * 16
    assert all(block.attention.rotary for block in rotary.blocks)
    with pytest.raises(ValueError, match="positional_embedding must be"):
        small_model(positional_embedding="alibi")


@pytest.mark.parametrize("positional", ["learned", "rotary"])
def test_cached_decoding_matches_the_full_model(positional):
    model = small_model(positional_embedding=positional)
    assert_cached_decoding_matches(model, heads=2)


@pytest.mark.parametrize("kv_heads", [2, 1, 4])
def test_modern_cached_decoding_matches_the_full_model(kv_heads):
    model = modern_model(num_key_value_heads=kv_heads)
    randomize(model)
    assert_cached_decoding_matches(model, heads=kv_heads, atol=1e-4)


def assert_cached_decoding_matches(model, heads, atol=1e-5):
    """A prefill of 5 tokens and 11 single steps give the full logits;
    each block's cache holds `heads` key/value heads."""
    ids = token_ids()
    full = keras.ops.convert_to_numpy(model(ids))
    cache = model.initial_cache(batch_size=2, max_sequence_length=16)
    head_dim = model.hidden_dim // model.num_heads
    assert [c.shape for c in cache] == (
        [(2, 2, 16, heads, head_dim)] * model.num_layers)
    logits, cache = model.call_with_cache(ids[:, :5], cache, 0)
    pieces = [keras.ops.convert_to_numpy(logits)]
    for t in range(5, 16):
        logits, cache = model.call_with_cache(ids[:, t : t + 1], cache, t)
        pieces.append(keras.ops.convert_to_numpy(logits))
    np.testing.assert_allclose(np.concatenate(pieces, 1), full, atol=atol)


def test_presets():
    assert PRESETS["gpt-tiny"]["arguments"] == dict(
        max_sequence_length=64, num_layers=4, num_heads=4, hidden_dim=128,
        dropout=0.0)
    nano = build_model("gpt-shakespeare-char", vocabulary_size=65)
    assert (nano.num_layers, nano.num_heads, nano.hidden_dim,
            nano.max_sequence_length, nano.dropout) == (6, 6, 384, 256, 0.2)
    # nanoGPT reports 10.65M parameters for this model.
    assert 10.6e6 < nano.count_params() < 10.9e6
    textbook = build_model("gpt-textbook", vocabulary_size=10000)
    assert (textbook.num_layers, textbook.num_heads, textbook.hidden_dim) == (
        6, 8, 512)


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'gpt-huge'"):
        build_model("gpt-huge", vocabulary_size=10)


@pytest.mark.parametrize("modern", [False, True])
def test_attention_weights_per_block(modern):
    model = modern_model() if modern else small_model()
    weights = model.attention_weights(token_ids(length=9))
    assert len(weights) == 2
    for block_weights in weights:
        block_weights = keras.ops.convert_to_numpy(block_weights)
        assert block_weights.shape == (2, model.num_heads, 9, 9)
        np.testing.assert_allclose(block_weights.sum(-1), 1.0, rtol=1e-5)
        assert np.all(np.triu(block_weights, k=1) == 0)
    # Different blocks read differently.
    assert not np.allclose(weights[0], weights[1])


# === The modern decoder (Llama, SmolLM2) ===

# The weights of one modern block, in order.
MODERN_BLOCK_PATHS = [
    "block_0/attention_norm/scale",
    "block_0/attention/query/kernel",
    "block_0/attention/key/kernel",
    "block_0/attention/value/kernel",
    "block_0/attention/output/kernel",
    "block_0/mlp_norm/scale",
    "block_0/mlp_gate/kernel",
    "block_0/mlp_in/kernel",
    "block_0/mlp_out/kernel",
]


@pytest.mark.parametrize("tie_embeddings", [True, False])
def test_modern_model_matches_the_numpy_llama(tie_embeddings):
    model = modern_model(tie_embeddings=tie_embeddings)
    randomize(model)
    ids = token_ids()
    expected = llama_reference.forward(
        llama_reference.hf_weights(model), ids,
        llama_reference.hf_config(model))
    logits = keras.ops.convert_to_numpy(model(ids))
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, expected, atol=1e-4, rtol=1e-4)


def test_modern_model_weights():
    model = modern_model()
    paths = [w.path for w in model.weights]
    assert paths[0] == "token_embedding/embeddings"
    assert paths[1:10] == MODERN_BLOCK_PATHS
    assert paths[-1] == "final_norm/scale"
    assert len(paths) == 1 + 2 * len(MODERN_BLOCK_PATHS) + 1
    shapes = {w.path: tuple(w.shape) for w in model.weights}
    assert shapes["block_0/attention/query/kernel"] == (32, 32)
    assert shapes["block_0/attention/key/kernel"] == (32, 16)
    assert shapes["block_0/attention/value/kernel"] == (32, 16)
    assert shapes["block_0/mlp_gate/kernel"] == (32, 48)
    assert isinstance(model.final_norm, keras.layers.RMSNormalization)
    assert model.position_embedding is None


def test_a_classic_model_is_unchanged():
    # gpt-tiny's weights and config as before the modern options existed.
    model = build_model("gpt-tiny", vocabulary_size=65)
    block = ["attention_norm/gamma", "attention_norm/beta",
             "attention/qkv/kernel", "attention/qkv/bias",
             "attention/output/kernel", "attention/output/bias",
             "mlp_norm/gamma", "mlp_norm/beta", "mlp_in/kernel",
             "mlp_in/bias", "mlp_out/kernel", "mlp_out/bias"]
    assert [w.path for w in model.weights] == (
        ["token_embedding/embeddings", "position_embedding/embeddings"]
        + [f"block_{i}/{name}" for i in range(4) for name in block]
        + ["final_norm/gamma", "final_norm/beta"])
    config = model.get_config()
    assert config.pop("name").startswith("transformer_lm")
    assert config == {
        "trainable": True, "vocabulary_size": 65,
        "max_sequence_length": 64, "num_layers": 4, "num_heads": 4,
        "hidden_dim": 128, "intermediate_dim": 512, "dropout": 0.0,
        "tie_embeddings": True, "positional_embedding": "learned",
        "use_bias": True, "layer_norm_epsilon": 1e-05,
        # The modern options, at the values that reproduce GPT-2.
        "normalization": "layer_norm", "feed_forward": "gelu",
        "num_key_value_heads": None, "rotary_max_wavelength": 10000}
    assert model.blocks[0].mlp_in.activation is gelu_approximate
    assert not hasattr(model.blocks[0], "mlp_gate")
    assert isinstance(model.final_norm, keras.layers.LayerNormalization)
    assert model.initial_cache(2, 64)[0].shape == (2, 2, 64, 4, 32)


def test_a_file_saved_before_the_modern_options_loads(tmp_path):
    # Such a file's configs lack the new keys: the defaults rebuild it.
    import json
    import zipfile

    new_keys = ("normalization", "feed_forward", "num_key_value_heads",
                "rotary_max_wavelength")
    model = small_model(positional_embedding="rotary")
    path = str(tmp_path / "old.keras")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        contents = {name: archive.read(name) for name in archive.namelist()}

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if k not in new_keys}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    config = strip(json.loads(contents["config.json"]))
    assert "num_key_value_heads" not in json.dumps(config)
    contents["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in contents.items():
            archive.writestr(name, data)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == model.get_config()
    ids = token_ids()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(ids)),
                                  keras.ops.convert_to_numpy(model(ids)))


def test_modern_config_and_keras_round_trips(tmp_path):
    model = modern_model(dropout=0.1, layer_norm_epsilon=1e-6)
    config = model.get_config()
    assert {key: config[key] for key in (
        "normalization", "feed_forward", "num_key_value_heads",
        "rotary_max_wavelength", "use_bias", "positional_embedding")} == {
        "normalization": "rms_norm", "feed_forward": "swiglu",
        "num_key_value_heads": 2, "rotary_max_wavelength": 100000,
        "use_bias": False, "positional_embedding": "rotary"}
    again = TransformerLM.from_config(config)
    assert again.get_config() == config
    assert [w.path for w in again.weights] == [w.path for w in model.weights]
    path = str(tmp_path / "llama.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, TransformerLM)
    assert restored.get_config() == config
    ids = token_ids()
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(restored(ids)),
                                  keras.ops.convert_to_numpy(model(ids)))


def test_modern_options_are_checked():
    with pytest.raises(ValueError, match="unknown normalization"):
        modern_model(normalization="rmsnorm")
    with pytest.raises(ValueError, match="unknown feed_forward 'geglu'"):
        modern_model(feed_forward="geglu")
    with pytest.raises(ValueError, match="must divide num_heads"):
        modern_model(num_key_value_heads=3)


def test_options_combine_one_by_one():
    # Each option alone on a GPT-2 model: the causal model still runs.
    ids = token_ids(length=8)
    for options in [dict(normalization="rms_norm"),
                    dict(feed_forward="swiglu"),
                    dict(num_key_value_heads=1),
                    dict(positional_embedding="rotary",
                         rotary_max_wavelength=100000)]:
        model = small_model(**options)
        assert model(ids).shape == (2, 8, VOCAB)


def test_lora_on_the_modern_projections():
    model = modern_model()
    ids = token_ids()
    before = keras.ops.convert_to_numpy(model(ids))
    names = ["query", "key", "value", "output", "mlp_gate", "mlp_in",
             "mlp_out"]
    for block in model.blocks:
        attention = block.attention
        for layer in [attention.query_dense, attention.key_dense,
                      attention.value_dense, attention.output_dense,
                      block.mlp_gate, block.mlp_in, block.mlp_out]:
            assert layer.name in names
            layer.enable_lora(4)
    trainable = [w.path for w in model.trainable_weights]
    assert "block_0/attention/key/lora_kernel_a" in trainable
    assert "block_1/mlp_gate/lora_kernel_b" in trainable
    assert "block_0/attention/key/kernel" not in trainable
    # LoRA's B starts at zero: the model is unchanged until trained.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(ids)),
                               before, atol=1e-6)
    # LoRA's A and B per projection, the 5 norms' scales, the embedding.
    assert len(trainable) == 2 * 2 * len(names) + 5 + 1


def test_a_quantized_modern_model_runs():
    from tfzoo.quantization import quantizable_layers, quantize

    model = modern_model()
    randomize(model)
    ids = token_ids()
    float_logits = keras.ops.convert_to_numpy(model(ids))
    quantize(model)
    layers = quantizable_layers(model)
    # The token embedding, and per block 4 attention and 3 MLP projections.
    assert len(layers) == 1 + 2 * 7
    assert {layer.quantization_mode for layer in layers} == {"int8"}
    assert model.blocks[0].attention.key_dense.kernel.dtype == "int8"
    logits = keras.ops.convert_to_numpy(model(ids))
    assert np.abs(logits - float_logits).max() < 0.1 * np.abs(
        float_logits).max()
    cache = model.initial_cache(2, 16)
    cached, _ = model.call_with_cache(ids[:, :4], cache, 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cached),
                               logits[:, :4], atol=1e-4)


def test_a_mixed_precision_modern_model():
    model = modern_model(dtype="mixed_bfloat16")
    ids = token_ids()
    logits = model(ids)
    assert logits.dtype == "float32"
    cached, _ = model.call_with_cache(ids[:, :4], model.initial_cache(2, 16),
                                      0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(cached),
                               keras.ops.convert_to_numpy(logits)[:, :4],
                               atol=5e-2)
