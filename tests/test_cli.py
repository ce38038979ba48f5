import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from noisylabels.cli import main


def write_csv(path, n=120, nan_row=None):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.normal(0, 1, (n, 4)) + 3 * np.eye(3, 4)[y]
    lines = ["a,b,c,d,label"] + [",".join(f"{v:.4f}" for v in row) + f",{c}" for row, c in zip(x, y)]
    if nan_row is not None:
        lines[nan_row + 1] = "nan," + lines[nan_row + 1].split(",", 1)[1]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def train_args(data, out, *extra):
    return ["train", "--dataset", "csv", "--data-path", str(data), "--model", "mlp", "--epochs", "2",
            "--batch-size", "16", "--out", str(out), "--no-progress", "--device", "cpu", *extra]


def test_train_from_flags_writes_results(tmp_path, capsys):
    code, out, _ = run(train_args(write_csv(tmp_path / "d.csv"), tmp_path / "run",
                                  "--noise", "symmetric", "--noise-rate", "0.2", "--model-arg", "hidden_sizes=[16]"), capsys)
    assert code == 0 and "done: selected test acc" in out and "oracle best test acc" in out
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["status"] == "complete" and metrics["noise"] == "symmetric" and len(metrics["epochs"]) == 2


def test_config_file_then_flags_then_set(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("optim:\n  epochs: 5\n  lr: 0.01\nnoise:\n  type: pair\n  rate: 0.1\n")
    code, _, _ = run(["train", "--config", str(cfg), *train_args(write_csv(tmp_path / "d.csv"), tmp_path / "run")[1:],
                      "--set", "optim.lr=0.02"], capsys)
    assert code == 0
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "epochs: 2" in saved and "lr: 0.02" in saved and "type: pair" in saved


def test_list_prints_every_registry(capsys):
    code, out, _ = run(["list"], capsys)
    assert code == 0
    for kind in ("datasets:", "noise:", "models:", "methods:", "losses:"):
        assert kind in out
    assert "fashion_mnist" in out and "symmetric" in out and "cnn" in out and "ce" in out


def truncated_idx_folder(tmp_path):
    folder = tmp_path / "fmnist"
    folder.mkdir()
    for name in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        header = (2051).to_bytes(4, "big") + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
        (folder / f"{name}.gz").write_bytes(gzip.compress(header + bytes(100)))  # 10 images need 7840
    for name in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        (folder / f"{name}.gz").write_bytes(gzip.compress((2049).to_bytes(4, "big") + (10).to_bytes(4, "big") + bytes(10)))
    return folder


def arrays_file(tmp_path, x_rows, y):
    path = tmp_path / "a.npz"
    np.savez(path, x=np.zeros((x_rows, 3)), y=np.array(y))
    return path


BAD_INPUT = [
    ("unknown method", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--method", "magic"),
     "unknown method 'magic'"),
    ("unknown model", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--model", "vgg99"), "unknown model"),
    ("unknown noise", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--noise", "weird"),
     "unknown noise type 'weird'"),
    ("noise rate", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--noise", "symmetric",
                                        "--noise-rate", "1.5"), "noise.rate must be in"),
    ("missing file", lambda t: train_args(t / "missing.csv", t / "run"), "missing.csv"),
    ("NaN features", lambda t: train_args(write_csv(t / "d.csv", nan_row=5), t / "run"), "NaN"),
    ("truncated IDX", lambda t: ["train", "--dataset", "fashion_mnist", "--data-path", str(truncated_idx_folder(t)),
                                 "--out", str(t / "run"), "--no-progress"], "truncated"),
    ("length mismatch", lambda t: ["train", "--dataset", "arrays", "--data-path", str(arrays_file(t, 10, [0, 1] * 4)),
                                   "--model", "mlp", "--out", str(t / "run")], "8 labels for 10"),
    ("label range", lambda t: ["train", "--dataset", "arrays", "--data-path", str(arrays_file(t, 4, [0, 1, 2, 5])),
                               "--data-arg", "num_classes=3", "--model", "mlp", "--out", str(t / "run")], "outside"),
    ("unknown option", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--model-arg", "depth=3"),
     "has no option depth"),
    ("no milestones", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--schedule", "multistep"),
     "milestones"),
    ("forwarded option", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--method", "rsl_mixmatch",
                                              "--method-arg", "etta=0.3"),
     "method 'rsl_mixmatch' has no option etta; accepted: alpha, "),
    ("option value", lambda t: train_args(write_csv(t / "d.csv"), t / "run", "--model-arg", "dropout=1.5"),
     "model 'mlp': dropout must be in [0, 1), got 1.5"),
]


@pytest.mark.parametrize("name, make_args, message", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_is_one_line_and_leaves_no_run_folder(tmp_path, capsys, name, make_args, message):
    code, _, err = run(make_args(tmp_path), capsys)
    assert code == 2
    assert err.startswith("noisylabels: error:") and err.count("\n") == 1
    assert message.lower() in err.lower()
    assert not (tmp_path / "run").exists()


def test_a_misspelled_forwarded_option_lists_the_valid_ones(tmp_path, capsys):
    """Before: rsl_mixmatch forwarded etta to RSL unchecked, and the run ended in a TypeError traceback."""
    code, _, err = run(train_args(write_csv(tmp_path / "d.csv"), tmp_path / "run", "--method", "rsl_mixmatch",
                                  "--method-arg", "etta=0.3"), capsys)
    assert code == 2 and err.count("\n") == 1
    accepted = err.split("accepted: ")[1].strip().split(", ")
    assert {"eta", "stage1_epochs", "alpha", "lambda_u"} <= set(accepted) and "etta" not in accepted


def test_runs_as_a_module():
    result = subprocess.run([sys.executable, "-m", "noisylabels", "list", "methods"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("methods: ")
