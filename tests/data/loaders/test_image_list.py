"""Images named in a list file (``path label`` per line)."""
import pytest
from PIL import Image

from noisylabels.data.loaders import load_dataset
from noisylabels.errors import NoisyLabelsError


def write_png(path, color, size=(6, 4)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_image_list_loads_resizes_and_splits(tmp_path):
    write_png(tmp_path / "imgs" / "red.png", (255, 0, 0))
    write_png(tmp_path / "imgs" / "blue one.png", (0, 0, 255))
    write_png(tmp_path / "imgs" / "green.png", (0, 255, 0))
    (tmp_path / "train.txt").write_text("# path label\nimgs/red.png 0\n\nimgs/blue one.png 2\n")
    (tmp_path / "test.txt").write_text("imgs/green.png 1\n")
    splits = load_dataset("image_list", tmp_path / "train.txt", test_path=tmp_path / "test.txt", size=8)
    assert splits.train.x.shape == (2, 3, 8, 8) and splits.test.x.shape == (1, 3, 8, 8)
    assert splits.train.labels.tolist() == [0, 2] and splits.train.num_classes == 3
    red, blue = splits.train.x[0], splits.train.x[1]
    assert red[0].mean() > blue[0].mean() and blue[2].mean() > red[2].mean()
    gray = load_dataset("image_list", tmp_path / "train.txt", mode="L", size=4)
    assert gray.train.x.shape == (2, 1, 4, 4)


def test_image_list_root_option(tmp_path):
    write_png(tmp_path / "pics" / "a.png", (10, 20, 30))
    write_png(tmp_path / "pics" / "b.png", (200, 100, 0))
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train.txt").write_text("a.png 0\nb.png 1\n")
    assert len(load_dataset("image_list", lists / "train.txt", root=tmp_path / "pics").train) == 2


def test_image_list_errors_name_line(tmp_path):
    write_png(tmp_path / "a.png", (1, 2, 3))
    (tmp_path / "missing.txt").write_text("a.png 0\nnot-there.png 1\n")
    with pytest.raises(NoisyLabelsError, match=r"line 2: image .*not-there.png not found"):
        load_dataset("image_list", tmp_path / "missing.txt")
    (tmp_path / "malformed.txt").write_text("a.png 0\n\na.png cat\n")
    with pytest.raises(NoisyLabelsError, match="line 3: expected"):
        load_dataset("image_list", tmp_path / "malformed.txt")
    (tmp_path / "not-an-image.png").write_text("hello")
    (tmp_path / "corrupt.txt").write_text("not-an-image.png 0\n")
    with pytest.raises(NoisyLabelsError, match="line 1: cannot decode"):
        load_dataset("image_list", tmp_path / "corrupt.txt")
