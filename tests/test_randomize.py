"""`noisylabels randomize`: the randomization test (Zhang et al. 2017) on tiny data."""
import json

import pytest
import torch

from noisylabels.callbacks import TrainingSetAccuracy
from noisylabels.cli import main
from noisylabels.data import LabeledData, Splits
from noisylabels.engine import Trainer
from noisylabels.errors import NoisyLabelsError
from noisylabels.randomize import INPUTS, make_settings, randomize_inputs, run_randomize

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def image_splits(make_blobs):
    """Separable blobs shaped as (N, 1, 4, 2) images, so the pixel randomisations apply. Ten classes:
    with few, the majority random label of a blob is often its true class, and random labels teach it."""
    return Splits(make_blobs(400, 10, dim=8, image=True), make_blobs(200, 10, seed=1, dim=8, image=True))


def indexed_images(n: int, channels: int = 2, seed: int = 0) -> LabeledData:
    """Images whose value tells where it came from: 1000 * sample + 100 * channel + pixel."""
    x = (1000 * torch.arange(n)[:, None, None] + 100 * torch.arange(channels)[None, :, None]
         + torch.arange(12)[None, None, :]).float().reshape(n, channels, 3, 4)
    return LabeledData(x, torch.arange(n) % 3, 3)


def pixel_orders(data: LabeledData, n_offset: int = 0) -> torch.Tensor:
    """(N, C, pixels): where each output pixel came from, per sample and channel."""
    x = data.x.reshape(len(data.x), data.x.shape[1], -1)
    base = 1000 * (torch.arange(len(x)) + n_offset)[:, None, None] + 100 * torch.arange(x.shape[1])[None, :, None]
    return (x - base).long()


def test_sweep_writes_every_setting(tmp_path, tiny_config, image_splits):
    config = tiny_config.replace(optim={"epochs": 4}, data={"val_fraction": 0.0}, run={"out": str(tmp_path / "rz")})
    summary = run_randomize(config, rates=(0, 1), inputs=INPUTS, splits=image_splits)
    saved = json.loads((tmp_path / "rz" / "randomize.json").read_text())
    names = [s["setting"] for s in saved["settings"]]
    assert names == ["labels_0", "labels_1", "shuffled_pixels", "random_pixels", "gaussian"]
    assert summary["folder"] == str(tmp_path / "rz") and saved["num_classes"] == 10
    for s in saved["settings"]:
        assert len(s["train_acc"]) == len(s["test_acc"]) == 4
        assert all(0 <= a <= 1 for a in s["train_acc"] + s["test_acc"])
        assert s["final_train_acc"] == s["train_acc"][-1] and s["last_test_acc"] == s["test_acc"][-1]
        fitted = s["epochs_to_100"]
        assert fitted is None or (s["train_acc"][fitted - 1] == 1.0 and max(s["train_acc"][:fitted - 1] + [0]) < 1)
        assert (tmp_path / "rz" / s["run_dir"] / "metrics.json").is_file()
    by_name = {s["setting"]: s for s in saved["settings"]}
    assert by_name["labels_1"]["last_test_acc"] < by_name["labels_0"]["last_test_acc"] - 0.3
    assert by_name["labels_1"]["actual_noise_rate"] > 0.5 and by_name["labels_0"]["corruption_rate"] == 0
    assert (tmp_path / "rz" / "randomize.png").read_bytes().startswith(PNG_MAGIC)
    assert "| labels_1 | 100% random | original |" in (tmp_path / "rz" / "results.md").read_text()


def test_training_accuracy_is_eval_mode_on_the_fitted_labels(tiny_config, image_splits):
    config = tiny_config.replace(noise={"type": "uniform", "rate": 1.0}, data={"val_fraction": 0.0},
                                 run={"checkpoint": False})
    trainer = Trainer(config, image_splits, callbacks=[TrainingSetAccuracy()])
    trainer.fit()
    logits = trainer.logits_on(trainer.train_x)
    fitted = (logits.argmax(1) == trainer.train_y).float().mean().item()  # the corrupted labels
    assert trainer.history[-1]["train_eval_acc"] == pytest.approx(fitted)
    assert not torch.equal(trainer.train_y, trainer.true_y)
    assert all("train_eval_acc" in row for row in json.loads((trainer.out / "metrics.json").read_text())["epochs"])


def test_shuffled_pixels_is_one_permutation_for_every_image():
    splits = Splits(indexed_images(20), indexed_images(7))
    out = randomize_inputs(splits, "shuffled_pixels", seed=0)
    train, test = pixel_orders(out.train), pixel_orders(out.test)
    order = train[0, 0]
    assert sorted(order.tolist()) == list(range(12)) and order.tolist() != list(range(12))
    assert (train == order).all() and (test == order).all()  # every image, channel and split
    assert torch.equal(out.train.labels, splits.train.labels)


def test_random_pixels_permute_each_image_on_its_own():
    splits = Splits(indexed_images(50), indexed_images(10))
    out = randomize_inputs(splits, "random_pixels", seed=0)
    orders = pixel_orders(out.train)
    assert (orders[:, 0:1] == orders).all()  # a pixel moves with all its channels
    assert all(sorted(o.tolist()) == list(range(12)) for o in orders[:, 0])
    assert len({tuple(o.tolist()) for o in orders[:, 0]}) > 45  # all but chance collisions differ
    assert not (pixel_orders(out.test) == orders[0, 0]).all()


def test_gaussian_inputs_match_the_training_mean_and_std():
    gen = torch.Generator().manual_seed(0)
    mean, std = torch.arange(5.0), torch.arange(1.0, 6.0)
    train = LabeledData(mean + std * torch.randn(4000, 5, generator=gen), torch.arange(4000) % 2, 2)
    test = LabeledData(torch.randn(3000, 5, generator=gen), torch.arange(3000) % 2, 2)  # other statistics
    out = randomize_inputs(Splits(train, test), "gaussian", seed=0)
    for split in (out.train, out.test):
        error = 4 / len(split.x) ** 0.5  # four standard errors, relative to the std
        assert ((split.x.mean(0) - train.x.mean(0)).abs() < error * train.x.std(0)).all()
        assert ((split.x.std(0) / train.x.std(0) - 1).abs() < error).all()
    assert not torch.allclose(out.train.x, train.x)


def test_settings_are_checked():
    assert [s.name for s in make_settings(["0", "0.25", 1.0], ["none"])] == ["labels_0", "labels_0.25", "labels_1"]
    for rates, inputs, words in [([1.5], [], "not a rate in [0, 1]"), ([40], [], "a percentage? use 0.4"),
                                 (["x"], [], "not a rate"), ([0.2, 0.2], [], "given twice"),
                                 ([], ["blur"], "unknown input randomisation"), ([], [], "nothing to train")]:
        with pytest.raises(NoisyLabelsError, match=words.replace("?", r"\?").replace("[", r"\[")):
            make_settings(rates, inputs)


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_csv(path, n=90):
    torch.manual_seed(0)
    y = torch.arange(n) % 3
    x = torch.randn(n, 4) + 3 * torch.eye(3, 4)[y]
    rows = ["a,b,c,d,label"] + [",".join(f"{v:.4f}" for v in row.tolist()) + f",{int(c)}" for row, c in zip(x, y)]
    path.write_text("\n".join(rows) + "\n")
    return path


def randomize_args(tmp_path, *extra):
    return ["randomize", "--dataset", "csv", "--data-path", str(write_csv(tmp_path / "d.csv")), "--model", "mlp",
            "--model-arg", "hidden_sizes=[16]", "--epochs", "2", "--batch-size", "16", "--device", "cpu",
            "--no-progress", "--set", "run.plots=false", "--out", str(tmp_path / "rz"), *extra]


def test_cli_end_to_end_then_skips_finished_settings(tmp_path, capsys):
    args = randomize_args(tmp_path, "--rates", "0, 1", "--inputs", "shuffled_pixels")
    code, out, _ = run(args, capsys)
    assert code == 0 and "labels_1: " in out and f"results in {tmp_path / 'rz'}" in out
    settings = json.loads((tmp_path / "rz" / "randomize.json").read_text())["settings"]
    assert [s["setting"] for s in settings] == ["labels_0", "labels_1", "shuffled_pixels"]
    config = (tmp_path / "rz" / "runs" / "labels_1" / "config.yaml").read_text()
    assert "augment: none" in config and "weight_decay: 0.0" in config and "val_fraction: 0.0" in config
    code, out, _ = run(args, capsys)
    assert code == 0 and out.count("skipped, already complete") == 3
    code, out, _ = run(args + ["--overwrite"], capsys)
    assert code == 0 and out.count(": training") == 3


def test_a_config_file_and_flags_change_the_defaults(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("optim:\n  weight_decay: 0.002\n")
    code, _, _ = run(randomize_args(tmp_path, "--config", str(config), "--rates", "0", "--inputs", "none",
                                    "--val-fraction", "0.2"), capsys)
    saved = (tmp_path / "rz" / "runs" / "labels_0" / "config.yaml").read_text()
    assert code == 0 and "weight_decay: 0.002" in saved and "val_fraction: 0.2" in saved and "augment: none" in saved


@pytest.mark.parametrize("extra, words", [
    (["--rates", "0,1.5"], "--rates: '1.5' is not a rate in [0, 1]"),
    (["--rates", "0,0"], "given twice"),
    (["--inputs", "shuffled_pixels,blur"], "unknown input randomisation 'blur'"),
    (["--rates", "", "--inputs", "none"], "nothing to train"),
    (["--noise", "symmetric", "--noise-rate", "0.2"], "drop --noise"),
    (["--model-arg", "hidden_sizes=-3"], "hidden_sizes"),
])
def test_bad_input_is_one_line_and_creates_no_folder(tmp_path, capsys, extra, words):
    code, _, err = run(randomize_args(tmp_path, *extra), capsys)
    assert code == 2 and err.startswith("noisylabels: error: ") and words in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "rz").exists()


def test_help_lists_randomize(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "randomize" in capsys.readouterr().out
