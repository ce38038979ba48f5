"""benchmarks/gpu.py on CPU with a tiny budget: packing the IDX files, the table and the JSON."""
import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CELL = "fashion_mnist-symmetric0.5-ce-s0"


@pytest.fixture
def gpu(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports benchmarks/common.py
    spec = importlib.util.spec_from_file_location("benchmarks_gpu", BENCHMARKS / "gpu.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: Path, array: np.ndarray) -> None:
    path.write_bytes(b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
                     + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_dir(tmp_path) -> Path:
    """A stand-in for Fashion-MNIST: 300 train and 100 test random 28x28 images, 10 classes."""
    folder = tmp_path / "idx"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for stem, n in (("train", 300), ("t10k", 100)):
        write_idx(folder / f"{stem}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{stem}-labels-idx1-ubyte", np.arange(n) % 10)
    return folder


def test_pack_copies_the_four_idx_files(gpu, idx_dir, tmp_path):
    dest = tmp_path / "packed"
    assert gpu.main(["--pack", str(dest), "--data-path", str(idx_dir)]) == 0
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in idx_dir.iterdir())
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in idx_dir.iterdir())


def cpu_results(folder: Path, epoch_time: float) -> Path:
    """A committed-CPU-results stand-in: results.csv with one cell, and the grid.yaml bench writes."""
    folder.mkdir()
    (folder / "grid.yaml").write_text("base:\n  data: {subset: 200}\n  optim: {epochs: 1}\n")
    (folder / "results.csv").write_text(
        "cell,method,status,epoch_time,epoch_ratio,selected_acc,last_acc,epochs\n"
        f"{CELL},ce,complete,{epoch_time},1,0.5,0.5,1\n")
    return folder / "results.csv"


def test_tiny_cpu_run_writes_the_table_and_json(gpu, idx_dir, tmp_path):
    results, copy = tmp_path / "results", tmp_path / "copy"
    argv = ["--device", "cpu", "--data-path", str(idx_dir), "--subset", "200", "--epochs", "1", "--methods", "ce",
            "--noise", "symmetric:0.5", "--out", str(tmp_path / "cells"), "--results", str(results),
            "--copy-to", str(copy), "--cpu-results", str(cpu_results(tmp_path / "cpu", 30.0))]
    assert gpu.main(argv) == 0
    data = json.loads((results / "results.json").read_text())
    rows = {r["cell"]: r for r in data["rows"]}
    assert set(rows) == {CELL, "fashion_mnist-clean-ce-s0"}
    assert all(r["status"] == "complete" and len(r["epoch_times"]) == 1 and r["epoch_time"] > 0 for r in rows.values())
    row = rows[CELL]
    assert row["cpu_epoch_time"] == 30.0 and row["speedup"] == pytest.approx(30.0 / row["epoch_time"])
    assert row["cpu_last_acc"] == 0.5 and 0 <= row["last_acc"] <= 1
    text = (results / "results.md").read_text()
    assert "| method | noise | device s/epoch | CPU s/epoch | speed-up |" in text
    assert f"| ce | symmetric 50% | {row['epoch_time']:.3f} | 30.000 |" in text
    assert (copy / "results.md").read_text() == text and (copy / "results.json").is_file()
    # A second call reuses the complete cells instead of training them again.
    assert gpu.main(argv) == 0
    assert json.loads((results / "results.json").read_text())["rows"][0]["epoch_times"] == row["epoch_times"]


def test_cells_past_the_budget_are_skipped_and_listed(gpu, idx_dir, tmp_path):
    argv = ["--device", "cpu", "--data-path", str(idx_dir), "--subset", "200", "--epochs", "1", "--methods", "ce",
            "--noise", "symmetric:0.5", "--no-clean", "--budget-s", "0", "--cpu-results", "-",
            "--out", str(tmp_path / "cells"), "--results", str(tmp_path / "results")]
    assert gpu.main(argv) == 1
    assert "| ce | symmetric 50% | - | - | - |" in (tmp_path / "results" / "results.md").read_text()
    [row] = json.loads((tmp_path / "results" / "results.json").read_text())["rows"]
    assert row["status"] == "skipped (budget)" and row["epoch_times"] == []


def test_unknown_method_names_the_choices(gpu, idx_dir, tmp_path):
    with pytest.raises(SystemExit, match="--methods nope: not in fashion_mnist_long.yaml; choose from ce, gce"):
        gpu.main(["--device", "cpu", "--methods", "nope", "--out", str(tmp_path / "cells")])
