"""PNG plots of a run: training curves, and a classifier's confusion matrix.
"""

import csv
import os

from tfzoo.training.run_folder import read_settings, run_path


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


def plot_run(run_dir, out_dir=None, data_dir=None):
    """Writes the run's plots as PNGs; returns their paths.

    - `curves.png`: each metric per epoch, training and validation side by
      side (loss, and perplexity or accuracy).
    - `confusion_matrix.png` for classifier runs: counts on the validation
      data, rows the true class, columns the predicted class.

    Args:
        run_dir: str, a run folder with at least one finished epoch.
        out_dir: str or None; default `run_dir/plots`.
        data_dir: str or None, to find a classifier's validation data.

    Example:
    >>> plot_run("runs/tiny")
    ['runs/tiny/plots/curves.png']
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    history = read_history(run_dir)
    out_dir = out_dir or run_path(run_dir, "plots")
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
    paths = [os.path.join(out_dir, "curves.png")]
    figure.savefig(paths[0], dpi=100)
    plt.close(figure)

    settings = read_settings(run_dir)
    if settings["task"] == "classification":
        from tfzoo.training import classifier
        from tfzoo.training.loader import load_run

        result = classifier.evaluate(load_run(run_dir, settings=settings),
                                     data_dir=data_dir)
        paths.append(_plot_confusion(plt, result, out_dir))
    return paths


def _plot_confusion(plt, result, out_dir):
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
