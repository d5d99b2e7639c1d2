import keras
import numpy as np

from tfzoo.models import LSTMLM, build_model


def test_shape_causality_and_round_trip(tmp_path):
    model = LSTMLM(vocabulary_size=20, max_sequence_length=12, embedding_dim=8,
                   hidden_dim=16, num_layers=2, dropout=0.1)
    ids = np.random.default_rng(0).integers(0, 20, (3, 12))
    logits = keras.ops.convert_to_numpy(model(ids))
    assert logits.shape == (3, 12, 20)
    changed = ids.copy()
    changed[:, 7:] = 0
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(changed))[:, :7], logits[:, :7],
        atol=1e-6)

    path = str(tmp_path / "lstm.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, LSTMLM)
    assert restored.get_config() == model.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(ids)), logits)


def test_textbook_preset():
    model = build_model("lstm-char", vocabulary_size=65)
    assert [type(layer).__name__ for layer in model.layers[1:]] == [
        "Embedding", "Dropout", "LSTM", "Dense"]
    assert model.lstm_layers[0].units == 128
