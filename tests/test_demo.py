"""The demo: it runs end to end, features the method the committed long benchmark ranks first by
validation-selected accuracy, and its runs are that benchmark's cells (so its rows reproduce them)."""
import csv
import dataclasses
import json
from pathlib import Path

from noisylabels.bench.grid import check_grid, expand_grid, load_grid
from noisylabels.cli import main
from noisylabels.demo import FEATURED, NOISY, demo_configs

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "benchmarks" / "grids" / "fashion_mnist_long.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "bench_fashion_mnist_long" / "results.csv"


def test_the_featured_method_has_the_best_selected_accuracy_at_the_demo_setting():
    with open(RESULTS, newline="") as f:
        column = [r for r in csv.DictReader(f)
                  if r["noise"] == NOISY["type"] and float(r["noise_rate"]) == NOISY["rate"]]
    assert column and all(r["status"] == "complete" for r in column)  # the whole column is measured
    best = max(column, key=lambda r: float(r["selected_acc"]))
    assert best["method"] == FEATURED[0]


def test_the_demo_runs_are_the_long_grid_cells(tmp_path):
    cells = {(c.noise, c.rate, c.method): c.config for c in expand_grid(check_grid(load_grid(GRID)), tmp_path)}
    for _, label, config in demo_configs(str(tmp_path)):
        cell = cells[(config.noise.type, config.noise.rate, label)]
        for section in ("data", "noise", "method", "model", "optim"):
            assert dataclasses.asdict(getattr(config, section)) == dataclasses.asdict(getattr(cell, section)), section
        assert config.run.seed == cell.run.seed


def test_demo_runs_and_writes_its_table(tmp_path, capsys):
    code = main(["demo", "--dataset", "digits", "--subset", "800", "--epochs", "6", "--out", str(tmp_path),
                 "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    table = (tmp_path / "results.md").read_text()
    featured = f"{FEATURED[0]}-noisy"
    assert "| ce-noisy | ce | 50% symmetric |" in table and "| ce-clean | ce | clean |" in table
    assert f"| {featured} | {FEATURED[0]} | 50% symmetric |" in table and "Suspected label errors" in table
    assert "| selected | last | oracle best (test) |" in table
    assert table.strip() in out
    for run_name in ("ce-noisy", featured, "ce-clean"):
        assert json.loads((tmp_path / run_name / "metrics.json").read_text())["status"] == "complete"
    rows = list(csv.DictReader(open(tmp_path / "suspected_label_errors.csv")))
    n = json.loads((tmp_path / "ce-noisy" / "metrics.json").read_text())["num_train"]
    assert len(rows) == n and [int(r["rank"]) for r in rows] == list(range(1, n + 1))
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores) and min(scores) == 0.0  # class-wise min-max: the worst of a class is 0
    # The flagged samples are more often mislabeled than the 50% base rate.
    flagged = [r for r in rows if r["flag"] == "1"]
    assert sum(r["given_label"] != r["true_label"] for r in flagged) / len(flagged) > 0.55
