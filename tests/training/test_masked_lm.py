"""MLM pretraining: the 15% / 80-10-10 masking, and training end to end."""

import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfzoo.cli import main
from tfzoo.text.bert_preprocessor import SPECIAL_TOKENS, BertPreprocessor
from tfzoo.tasks.masked_lm import masked_lm_dataset



def test_masking_rates_and_unselectable_tokens():
    words = [f"w{i}" for i in range(200)]
    preprocessor = BertPreprocessor(list(SPECIAL_TOKENS) + words,
                                    sequence_length=40)
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, size=int(rng.integers(5, 38))))
             for _ in range(3000)]
    originals = preprocessor(tf.constant(lines))["token_ids"].numpy()
    selectable = ~np.isin(originals, preprocessor.special_ids)

    selectable_per_row = selectable.sum(axis=1)
    masked = random = unchanged = offset = 0
    for features, mask_ids, weights in masked_lm_dataset(
            preprocessor, lines, batch_size=500):  # in order: no shuffle
        tokens = features["token_ids"].numpy()
        before = originals[offset:offset + len(tokens)]
        offset += len(tokens)
        picked = weights.numpy().astype(bool)
        # 15% of each row's selectable tokens, rounded up (as tf-text does).
        np.testing.assert_array_equal(
            picked.sum(axis=1),
            np.ceil(0.15 * selectable_per_row[offset - len(tokens):offset]))
        positions = features["mask_positions"].numpy()
        rows = np.broadcast_to(np.arange(len(tokens))[:, None],
                               positions.shape)[picked]
        columns = positions[picked]
        original = mask_ids.numpy()[picked]
        np.testing.assert_array_equal(original, before[rows, columns])
        # Never a special token or padding.
        assert not np.isin(original, preprocessor.special_ids).any()
        now = tokens[rows, columns]
        masked += int((now == preprocessor.mask_id).sum())
        unchanged += int((now == original).sum())
        random += int(((now != original)
                       & (now != preprocessor.mask_id)).sum())
        # Every other token is left as it was.
        untouched = np.ones(tokens.shape, bool)
        untouched[rows, columns] = False
        np.testing.assert_array_equal(tokens[untouched], before[untouched])
    total = masked + random + unchanged
    assert total == np.ceil(0.15 * selectable_per_row).sum()
    assert masked / total == pytest.approx(0.8, abs=0.02)
    assert random / total == pytest.approx(0.1, abs=0.015)
    assert unchanged / total == pytest.approx(0.1, abs=0.015)


def history(run):
    with open(os.path.join(run, "logs", "history.csv")) as f:
        return list(csv.DictReader(f))


VERSES = [
    "the king and queen of night shall rise above the sea",
    "where stars are born and old men weep for love",
    "the queen shall weep for the king of the sea",
    "old stars rise above the night where love was born",
    "and the king shall love the stars above the queen",
]


def verses(count, seed):
    """Lines drawn from a few fixed verses: a masked word can be inferred
    from its context, so an MLM has something to learn."""
    rng = np.random.default_rng(seed)
    return [VERSES[i] for i in rng.integers(len(VERSES), size=count)]


@pytest.mark.slow  # about 90 s
def test_mlm_loss_falls_and_a_classifier_starts_from_it(tmp_path, capsys):
    text = tmp_path / "verses.txt"
    text.write_text("\n".join(verses(600, 0)) + "\n", encoding="utf-8")
    mlm = str(tmp_path / "mlm")
    assert main(["train", "--model", "bert-mlm", "--data", str(text),
                 "--epochs", "3", "--steps-per-epoch", "30", "--batch-size",
                 "16", "--max-sequence-length", "16", "--vocab-size", "100",
                 "--learning-rate", "2e-3", "--out", mlm]) == 0
    losses = [float(row["val_loss"]) for row in history(mlm)]
    assert losses[-1] < losses[0] - 0.3 and losses[-1] < 1.0, losses
    assert "fine-tune it with --model bert-classifier" in (
        capsys.readouterr().out)

    # Label: does the line mention the king?
    lines = verses(300, 1)
    labelled = tmp_path / "king.tsv"
    labelled.write_text("sentence\tlabel\n" + "".join(
        f"{line}\t{int('king' in line.lower())}\n" for line in lines),
        encoding="utf-8")
    classifier = str(tmp_path / "classifier")
    assert main(["train", "--model", "bert-classifier", "--init", mlm,
                 "--train", str(labelled), "--val", str(labelled),
                 "--epochs", "2", "--steps-per-epoch", "30", "--batch-size",
                 "16", "--max-sequence-length", "16",
                 "--learning-rate", "1e-3", "--out", classifier]) == 0
    pretrained = keras.saving.load_model(os.path.join(mlm, "model.keras"))
    fine_tuned = keras.saving.load_model(
        os.path.join(classifier, "model.keras"))
    assert (pretrained.encoder.token_embedding.embeddings.shape
            == fine_tuned.encoder.token_embedding.embeddings.shape)
    assert main(["eval", "--run", classifier]) == 0
    out = capsys.readouterr().out
    assert float(out.split("accuracy ")[1].split(",")[0]) > 0.8

    assert main(["eval", "--run", mlm]) == 1
    assert "is an MLM run" in capsys.readouterr().err


def test_a_refused_mlm_run_leaves_nothing_behind(tmp_path, capsys):
    blank = tmp_path / "blank.txt"
    blank.write_text("   \n" * 50 + "one line\n", encoding="utf-8")
    out = tmp_path / "mlm"
    assert main(["train", "--model", "bert-mlm", "--data", str(blank),
                 "--out", str(out)]) == 1
    assert "no non-empty lines" in capsys.readouterr().err
    assert not out.exists()
