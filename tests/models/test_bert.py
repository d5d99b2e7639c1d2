"""BERT: round trips, and parity with keras-hub on Hugging Face checkpoints."""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest
from safetensors.numpy import save_file

from tfzoo.layers import gelu_approximate
from tfzoo.models import (BertClassifier, BertEncoder, BertMaskedLM,
                          from_hf_checkpoint)

SIZES = dict(vocab_size=120, hidden_size=32, num_hidden_layers=2,
             num_attention_heads=4, intermediate_size=64,
             max_position_embeddings=40, type_vocab_size=2)


def write_hf_checkpoint(folder, sizes=SIZES, drop=(), prefix="", scale=0.2):
    """A randomly initialised BERT in Hugging Face's folder layout, weights
    drawn from N(0, scale) (BERT's own init is 0.02; the larger default
    makes the parity tests sensitive)."""
    rng = np.random.default_rng(0)
    h, i = sizes["hidden_size"], sizes["intermediate_size"]

    def w(*shape):
        return rng.normal(0, scale, shape).astype("float32")

    tensors = {
        "embeddings.word_embeddings.weight": w(sizes["vocab_size"], h),
        "embeddings.position_embeddings.weight": w(
            sizes["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": w(
            sizes["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": 1 + w(h),
        "embeddings.LayerNorm.bias": w(h),
        "pooler.dense.weight": w(h, h),
        "pooler.dense.bias": w(h),
    }
    for n in range(sizes["num_hidden_layers"]):
        p = f"encoder.layer.{n}."
        for name in ("attention.self.query", "attention.self.key",
                     "attention.self.value", "attention.output.dense"):
            tensors[p + name + ".weight"] = w(h, h)
            tensors[p + name + ".bias"] = w(h)
        tensors[p + "intermediate.dense.weight"] = w(i, h)
        tensors[p + "intermediate.dense.bias"] = w(i)
        tensors[p + "output.dense.weight"] = w(h, i)
        tensors[p + "output.dense.bias"] = w(h)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            tensors[p + name + ".weight"] = 1 + w(h)
            tensors[p + name + ".bias"] = w(h)
    tensors = {prefix + k: v for k, v in tensors.items() if k not in drop}
    os.makedirs(folder, exist_ok=True)
    save_file(tensors, os.path.join(folder, "model.safetensors"))
    config = {"model_type": "bert", "architectures": ["BertModel"],
              "hidden_act": "gelu", "layer_norm_eps": 1e-12,
              "hidden_dropout_prob": 0.1,
              "attention_probs_dropout_prob": 0.1, **sizes}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [
        f"w{n}" for n in range(sizes["vocab_size"] - 5)]
    with open(os.path.join(folder, "vocab.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    return str(folder)


def encoder_inputs(vocabulary_size, batch=3, length=12, seed=1):
    rng = np.random.default_rng(seed)
    token_ids = rng.integers(5, vocabulary_size, (batch, length)).astype(
        "int32")
    padding_mask = np.ones((batch, length), "int32")
    padding_mask[-1, length // 2 + 1:] = 0  # a padded row
    segment_ids = np.zeros((batch, length), "int32")
    segment_ids[0, length // 2:] = 1  # a pair
    token_ids = token_ids * padding_mask
    return {"token_ids": token_ids, "segment_ids": segment_ids,
            "padding_mask": padding_mask}


def assert_matches_keras_hub(folder, vocabulary_size):
    """keras-hub's BertBackbone uses the tanh GELU for every checkpoint;
    with the same activation tfzoo matches it to 1e-4. With the exact GELU
    of the checkpoint's config (`hidden_act="gelu"`, tfzoo's default) the
    two differ by up to 0.004, as the README says (measured: 0.0037 on
    MiniLM's sequence output, 0.0012 on the random checkpoint)."""
    inputs = encoder_inputs(vocabulary_size)
    reference = keras_hub.models.BertBackbone.from_preset(folder)(inputs)
    real = inputs["padding_mask"].astype(bool)
    for activation, tolerance in ((gelu_approximate, 1e-4), ("gelu", 4e-3)):
        ours = from_hf_checkpoint(folder, activation=activation)(inputs)
        np.testing.assert_allclose(
            np.asarray(ours["sequence_output"])[real],
            np.asarray(reference["sequence_output"])[real], atol=tolerance)
        np.testing.assert_allclose(ours["pooled_output"],
                                   reference["pooled_output"], atol=tolerance)


def test_random_checkpoint_matches_keras_hub(tmp_path):
    folder = write_hf_checkpoint(tmp_path / "bert")
    assert_matches_keras_hub(folder, SIZES["vocab_size"])


def test_minilm_checkpoint_matches_keras_hub():
    from tests.conftest import minilm_folder

    assert_matches_keras_hub(minilm_folder(), 30522)


def test_task_checkpoint_prefix_is_accepted(tmp_path):
    plain = from_hf_checkpoint(write_hf_checkpoint(tmp_path / "a"))
    prefixed = from_hf_checkpoint(
        write_hf_checkpoint(tmp_path / "b", prefix="bert."))
    inputs = encoder_inputs(SIZES["vocab_size"])
    np.testing.assert_array_equal(plain(inputs)["pooled_output"],
                                  prefixed(inputs)["pooled_output"])


def test_missing_tensor_is_named(tmp_path):
    folder = write_hf_checkpoint(
        tmp_path / "bert", drop=("encoder.layer.1.output.dense.bias",))
    with pytest.raises(ValueError, match=r"lacks 1 tensor\(s\): "
                       r"encoder\.layer\.1\.output\.dense\.bias"):
        from_hf_checkpoint(folder)


def change_config(folder, **changes):
    """Rewrites the checkpoint's config.json with `changes`."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({**config, **changes}, f)




def small_encoder():
    keras.utils.set_random_seed(0)
    return BertEncoder(vocabulary_size=50, num_layers=2, num_heads=2,
                       hidden_dim=16, intermediate_dim=32,
                       max_sequence_length=16)


def test_padding_does_not_change_real_positions():
    encoder = small_encoder()
    inputs = encoder_inputs(50, batch=1, length=8)
    padded = {k: np.pad(v, [[0, 0], [0, 4]]) for k, v in inputs.items()}
    np.testing.assert_allclose(
        np.asarray(encoder(padded)["sequence_output"])[:, :8],
        encoder(inputs)["sequence_output"], atol=1e-5)


@pytest.mark.parametrize("head", ["encoder", "classifier", "masked_lm"])
def test_keras_round_trip(tmp_path, head):
    encoder = small_encoder()
    inputs = encoder_inputs(50, batch=2, length=8)
    if head == "encoder":
        model = encoder
    elif head == "classifier":
        model = BertClassifier(encoder, num_classes=3)
    else:
        model = BertMaskedLM(encoder)
        inputs["mask_positions"] = np.array([[1, 3], [2, 5]], "int32")
    path = str(tmp_path / "model.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    expected, got = model(inputs), restored(inputs)
    if isinstance(expected, dict):
        expected, got = expected["pooled_output"], got["pooled_output"]
    np.testing.assert_array_equal(expected, got)


def test_masked_lm_head_is_tied_to_the_token_embedding():
    import tensorflow as tf

    encoder = small_encoder()
    model = BertMaskedLM(encoder)
    embeddings = encoder.token_embedding.embeddings
    # The head holds the encoder's embedding layer itself, not a copy.
    assert model.mlm_head.token_embedding is encoder.token_embedding
    inputs = encoder_inputs(50, batch=2, length=8)
    inputs["mask_positions"] = np.array([[1, 3], [2, 5]], "int32")
    assert model(inputs).shape == (2, 2, 50)
    # The head's output depends on the very embedding variable: its
    # gradient reaches it through the head alone (the encoder's output is
    # a constant here), and one SGD step on the head's loss moves it.
    sequence = keras.ops.convert_to_tensor(
        np.random.default_rng(0).normal(size=(2, 8, 16)).astype("float32"))
    with tf.GradientTape() as tape:
        logits = model.mlm_head(sequence,
                                mask_positions=inputs["mask_positions"])
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(
            np.array([[4, 7], [9, 11]]), logits, from_logits=True))
    gradient = tape.gradient(loss, embeddings.value)
    assert gradient is not None
    assert float(keras.ops.max(keras.ops.abs(gradient))) > 0
    before = keras.ops.convert_to_numpy(embeddings)
    keras.optimizers.SGD(1.0).apply([gradient], [embeddings])
    assert not np.allclose(keras.ops.convert_to_numpy(embeddings), before)


def not_safetensors(folder):
    with open(os.path.join(folder, "model.safetensors"), "wb") as f:
        f.write(b"<html>not found</html>")


# How a checkpoint folder goes wrong, what the error says, and whether the
# header alone (`check_hf_checkpoint`, before the slow steps) tells.
DAMAGES = {
    "a file missing": (lambda folder: os.remove(
        os.path.join(folder, "vocab.txt")), "missing vocab.txt", True),
    "not safetensors": (not_safetensors,
                        r"model\.safetensors is not a safetensors file",
                        True),
    "other embedding sizes": (
        lambda folder: change_config(folder, hidden_size=48),
        r"word_embeddings\.weight has shape \(120, 32\), which does not "
        r"fit the sizes", True),
    "other layer sizes": (
        lambda folder: change_config(folder, intermediate_size=80),
        r"intermediate\.dense\.weight has shape \(64, 32\), which does "
        r"not fit", False),
}


@pytest.mark.parametrize("prefix", ["", "bert."])
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_checkpoint_is_named(tmp_path, damage, prefix):
    from tfzoo.models.bert_checkpoint import check_hf_checkpoint

    damage_folder, message, in_header = DAMAGES[damage]
    folder = write_hf_checkpoint(tmp_path / "bert", prefix=prefix)
    check_hf_checkpoint(folder)  # fits before the damage
    damage_folder(folder)
    with pytest.raises(ValueError, match=message):
        from_hf_checkpoint(folder)
    if in_header:
        with pytest.raises(ValueError, match=message):
            check_hf_checkpoint(folder)
    else:
        check_hf_checkpoint(folder)  # only the whole load tells
