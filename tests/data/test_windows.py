import numpy as np
import pytest

from tfzoo.data import count_windows, evaluation_windows, training_windows
from tfzoo.data.windows import scoring_windows

IDS = np.arange(1000, dtype=np.int32) % 97


def batches(dataset, n):
    return [tuple(t.numpy() for t in batch) for batch in dataset.take(n)]


def test_training_windows_shapes_and_shift():
    dataset = training_windows(IDS, 16, batch_size=4, steps_per_epoch=5)
    for inputs, targets in batches(dataset, 12):
        assert inputs.shape == targets.shape == (4, 16)
        np.testing.assert_array_equal(inputs[:, 1:], targets[:, :-1])
        # Each window is a contiguous piece of the text.
        starts = [int(np.flatnonzero(np.all(
            np.lib.stride_tricks.sliding_window_view(IDS, 17)
            == np.append(row_in, row_t[-1]), axis=1))[0])
            for row_in, row_t in zip(inputs, targets)]
        assert all(0 <= s <= len(IDS) - 17 for s in starts)


def test_epochs_differ_and_resume_sees_the_same_data():
    first = batches(training_windows(IDS, 16, 4, 5, seed=3), 10)
    again = batches(training_windows(IDS, 16, 4, 5, seed=3), 10)
    resumed = batches(training_windows(IDS, 16, 4, 5, seed=3, first_epoch=1), 5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a[0], b[0])
    for a, b in zip(first[5:], resumed):
        np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(first[0][0], first[5][0])
    other_seed = batches(training_windows(IDS, 16, 4, 5, seed=4), 1)
    assert not np.array_equal(first[0][0], other_seed[0][0])


def test_evaluation_windows_predict_each_token_once():
    windows = list(evaluation_windows(IDS, 16, batch_size=8))
    targets = np.concatenate([t.numpy() for _, t in windows]).ravel()
    assert len(targets) == count_windows(len(IDS), 16) * 16 == 992
    np.testing.assert_array_equal(targets, IDS[1:993])
    assert windows[-1][0].shape == (6, 16)  # 62 windows, last batch of 6


def test_text_shorter_than_a_window():
    with pytest.raises(ValueError, match="fewer than one window of 17"):
        training_windows(IDS[:16], 16, 4, 5)
    with pytest.raises(ValueError, match="validation text has 10 tokens"):
        evaluation_windows(IDS[:10], 16, 4)


def counted_positions(lengths, max_sequence_length, stride, width=None):
    """For each text, the positions its windows count, and the context
    each counted position sees (from `scoring_windows`)."""
    width = width or max(lengths)
    ids = np.zeros((len(lengths), width), np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = np.arange(1, length + 1)  # id = position + 1
    windows, counted, text_index = (
        t.numpy() for t in scoring_windows(ids, lengths, max_sequence_length,
                                           stride))
    positions = {row: [] for row in range(len(lengths))}
    for window, mask, row in zip(windows, counted, text_index):
        targets = window[1:][mask] - 1
        contexts = np.flatnonzero(mask) + 1  # tokens read before the target
        positions[row] += list(zip(targets.tolist(), contexts.tolist()))
    return positions


@pytest.mark.parametrize("length", [1, 2, 15, 16, 17, 160, 161])
@pytest.mark.parametrize("stride", [1, 5, 8, 16])
def test_scoring_windows_count_every_token_but_the_first_once(length,
                                                              stride):
    positions = counted_positions([length, 3], 16, stride)
    targets = [target for target, _ in positions[0]]
    assert sorted(targets) == list(range(1, length))
    assert positions[1] == [(1, 1), (2, 2)]  # a short text in the batch
    for target, context in positions[0]:
        # Every token before it, or at least L - stride of them.
        assert context == target or context >= 16 - stride


def test_scoring_windows_of_stride_l_do_not_overlap():
    windows, counted, _ = scoring_windows(IDS[None], [len(IDS)], 16, 16)
    assert windows.shape == (63, 17)  # ceil(999 / 16)
    np.testing.assert_array_equal(windows.numpy()[:62], np.stack(
        [IDS[s:s + 17] for s in range(0, 62 * 16, 16)]))
    assert int(np.sum(counted)) == len(IDS) - 1


@pytest.mark.parametrize("stride", [0, 17])
def test_scoring_windows_refuse_a_stride_outside_1_to_l(stride):
    with pytest.raises(ValueError, match="stride must be from 1 to"):
        scoring_windows(IDS[None], [len(IDS)], 16, stride)
