"""PNG plots of a run: training curves, and a classifier's confusion matrix.

matplotlib is imported by the functions that draw (with its file-only
backend), so that importing this module costs nothing.
"""

import csv
import os

from tfzoo.runs.run_folder import run_path


def read_history(run_dir):
    """`logs/history.csv` as `{column: [values per epoch]}`."""
    path = run_path(run_dir, "logs", "history.csv")
    if not os.path.isfile(path):
        raise ValueError(f"{run_dir} has no logs/history.csv yet: train at "
                         "least one epoch first")
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{path} holds no epochs yet")
    return {name: [float(row[name]) for row in rows] for name in rows[0]}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_curves(run_dir, out_dir):
    """Writes `out_dir/curves.png`: each metric per epoch, training and
    validation side by side (loss, and perplexity or accuracy); returns
    its path.

    Args:
        run_dir: str, a run folder with at least one finished epoch.
        out_dir: str, created if need be.

    Raises:
        ValueError: no `logs/history.csv`, or no epoch in it.

    Example:
    >>> plot_curves("runs/tiny", "runs/tiny/plots")
    'runs/tiny/plots/curves.png'
    """
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()
    history = read_history(run_dir)
    os.makedirs(out_dir, exist_ok=True)
    metrics = [name for name in history
               if name != "epoch" and not name.startswith("val_")
               and name != "learning_rate"]
    epochs = [int(e) + 1 for e in history["epoch"]]

    figure, axes = plt.subplots(1, len(metrics),
                                figsize=(5 * len(metrics), 4), squeeze=False)
    for axis, name in zip(axes[0], metrics):
        axis.plot(epochs, history[name], marker="o", label="training")
        if "val_" + name in history:
            axis.plot(epochs, history["val_" + name], marker="o",
                      label="validation")
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_title(name.replace("_", " "))
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(os.path.basename(os.path.normpath(run_dir)))
    figure.tight_layout()
    path = os.path.join(out_dir, "curves.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def plot_confusion(result, out_dir):
    """Writes `out_dir/confusion_matrix.png` of a classifier's evaluation
    (`result`: `labels`, `confusion_matrix` with rows the true class,
    `accuracy`); returns its path."""
    plt = _pyplot()
    names, counts = result["labels"], result["confusion_matrix"]
    size = 1.2 + 0.6 * len(names)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(counts, cmap="Blues")
    axis.set_xticks(range(len(names)), labels=names, rotation=45)
    axis.set_yticks(range(len(names)), labels=names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    top = max(max(row) for row in counts) or 1
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            axis.text(j, i, str(count), ha="center", va="center",
                      color="white" if count > top / 2 else "black")
    axis.set_title(f"accuracy {result['accuracy']:.3f}")
    figure.colorbar(image, ax=axis)
    figure.tight_layout()
    path = os.path.join(out_dir, "confusion_matrix.png")
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
