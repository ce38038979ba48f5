import math

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image

from noisylabels.figures import plot_loss_histograms, plot_selection_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def fake_scores(n=300, num_classes=3, noise=0.2, seed=0):
    """Scores where mislabeled samples have higher loss, like a real run."""
    rng = np.random.default_rng(seed)
    true = np.arange(n) % num_classes
    flip = rng.random(n) < noise
    labels = np.where(flip, (true + 1) % num_classes, true)
    scores = np.where(flip, rng.normal(2.0, 0.5, n), rng.normal(0.3, 0.2, n))
    return scores, labels, true


def assert_png(path, min_bytes=2000):
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > min_bytes
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
    assert 100 < w < 5000 and 100 < h < 5000
    # Nothing but the final file: the temp file was renamed, not left behind.
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    return w, h


def image_size(path):
    with Image.open(path) as im:
        return im.size


def test_histograms_numpy(tmp_path):
    scores, labels, true = fake_scores()
    out = plot_loss_histograms(scores, labels, true, tmp_path / "hist.png", title="losses")
    assert out == tmp_path / "hist.png"
    w, h = assert_png(out)
    assert w > h  # three classes lie in one row


def test_histograms_torch_and_class_names(tmp_path):
    scores, labels, true = fake_scores()
    out = plot_loss_histograms(torch.tensor(scores, dtype=torch.float32), torch.tensor(labels),
                               torch.tensor(true), str(tmp_path / "sub" / "hist.png"),
                               class_names=["cat", "dog", "bird"], bins=10)
    assert_png(out)


def test_histograms_without_true_labels(tmp_path):
    scores, labels, _ = fake_scores()
    assert_png(plot_loss_histograms(scores, labels, None, tmp_path / "hist.png"))


def test_histograms_drop_nan_scores(tmp_path):
    scores, labels, true = fake_scores()
    scores[::4] = np.nan
    scores[labels == 2] = np.nan  # a class with no finite score gets no subplot
    assert_png(plot_loss_histograms(scores, labels, true, tmp_path / "hist.png"))


def test_histograms_all_nan_still_writes(tmp_path):
    scores = np.full(10, np.nan)
    labels = np.zeros(10, dtype=int)
    assert_png(plot_loss_histograms(scores, labels, labels, tmp_path / "hist.png"), min_bytes=500)


def test_histograms_grid_grows_with_classes(tmp_path):
    few = plot_loss_histograms(*fake_scores(num_classes=2), tmp_path / "a" / "few.png")
    many = plot_loss_histograms(*fake_scores(n=420, num_classes=7), tmp_path / "b" / "many.png")
    (w_few, h_few), (w_many, h_many) = image_size(few), image_size(many)
    assert w_many > w_few and h_many > 1.5 * h_few  # 5 columns x 2 rows vs 2 x 1


def test_histograms_length_mismatch(tmp_path):
    with pytest.raises(ValueError):
        plot_loss_histograms(np.zeros(5), np.zeros(4, dtype=int), None, tmp_path / "x.png")
    assert list(tmp_path.iterdir()) == []


def metrics_epochs():
    return [
        {"epoch": 0, "test_acc": 0.40, "train_loss": 1.2},  # warm-up: no selection yet
        {"epoch": 1, "test_acc": 0.55, "selection_precision": 0.80, "selection_recall": 0.60},
        {"epoch": 2, "test_acc": None, "selection_precision": 0.85, "selection_recall": 0.70},
        {"epoch": 3, "test_acc": 0.70, "selection_precision": 0.90, "selection_recall": None},
        {"epoch": 4, "test_acc": 0.72, "selection_precision": math.nan},
    ]


def test_selection_curves(tmp_path):
    out = plot_selection_curves(metrics_epochs(), tmp_path / "sel.png", title="run")
    assert out == tmp_path / "sel.png"
    assert_png(out)


def test_selection_curves_test_acc_only(tmp_path):
    epochs = [{"epoch": i, "test_acc": 0.1 * i} for i in range(5)]
    assert_png(plot_selection_curves(epochs, tmp_path / "sel.png"))


def test_selection_curves_nothing_recorded(tmp_path):
    assert_png(plot_selection_curves([{"epoch": 0}], tmp_path / "sel.png"), min_bytes=500)
    assert_png(plot_selection_curves([], tmp_path / "sel.png"), min_bytes=500)


@pytest.mark.parametrize("plot", ["hist", "curves"])
def test_failed_save_leaves_no_file(tmp_path, monkeypatch, plot):
    def broken_savefig(self, fname, **kwargs):
        with open(fname, "wb") as f:  # a partial write, then the failure
            f.write(PNG_MAGIC)
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    path = tmp_path / "fig.png"
    with pytest.raises(RuntimeError, match="disk full"):
        if plot == "hist":
            plot_loss_histograms(*fake_scores(), path)
        else:
            plot_selection_curves(metrics_epochs(), path)
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "sel.png"
    plot_selection_curves(metrics_epochs(), path)
    before = path.read_bytes()

    def broken_savefig(self, fname, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError):
        plot_selection_curves(metrics_epochs()[:2], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["sel.png"]


def test_no_pyplot_figures_left_open(tmp_path):
    import matplotlib.pyplot as plt

    open_before = plt.get_fignums()
    plot_loss_histograms(*fake_scores(), tmp_path / "hist.png")
    plot_selection_curves(metrics_epochs(), tmp_path / "sel.png")
    assert plt.get_fignums() == open_before
