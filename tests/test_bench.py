"""`noisylabels bench`: grid checking and expansion, results files, skip / resume, --jobs, the CLI."""
import copy
import csv
import json
from pathlib import Path

import pytest
import yaml

from noisylabels import NoisyLabelsError, run_bench
from noisylabels.bench import CSV_COLUMNS, check_grid, expand_grid, load_grid
from noisylabels.cli import main
from noisylabels.engine import Trainer

GRIDS = Path(__file__).resolve().parents[1] / "benchmarks" / "grids"
# The bundled digits need no files; a small MLP trains a cell in a fraction of a second.
BASE = {"data": {"subset": 300, "augment": "none"}, "model": {"name": "mlp", "options": {"hidden_sizes": [32]}},
        "optim": {"epochs": 2, "batch_size": 64}, "run": {"device": "cpu", "plots": False}}
TINY = {"name": "tiny", "base": BASE, "datasets": ["digits"], "noise": [{"type": "symmetric", "rates": [0.4]}],
        "methods": ["ce", "small_loss"], "seeds": [0, 1], "clean_ce": True}


def grid(**changes) -> dict:
    return {**copy.deepcopy(TINY), **changes}


def read_csv(out: Path) -> list[dict]:
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


def metrics_of(out: Path, cell: str) -> dict:
    return json.loads((out / "cells" / cell / "metrics.json").read_text())


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run of the tiny grid, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("bench")
    rows = run_bench(grid(), out)
    return out, rows


# ---------------------------------------------------------------------- checking and expanding
def test_expansion_counts_and_names(tmp_path):
    g = grid(noise=[{"type": "symmetric", "rates": [0.2, 0.4]}, {"type": "pair", "rates": [0.4]}],
             methods=["ce", {"name": "ce", "label": "gce+sr", "loss": "gce+sr"}, {"name": "rsl", "loss": "gce"}],
             seeds=[0])
    cells = expand_grid(check_grid(g), tmp_path)
    assert len(cells) == 3 * 3 * 1 + 1  # (noise, rate) x methods x seeds + the clean ce cell
    names = [c.name for c in cells]
    assert "digits-symmetric0.4-gce+sr-s0" in names and "digits-pair0.4-ce-s0" in names
    assert "digits-symmetric0.2-rsl_gce-s0" in names  # label rsl/gce, made filesystem-safe
    assert names[-1] == "digits-clean-ce-s0" and cells[-1].noise == "none"
    config = cells[1].config
    assert config.method.loss == "gce+sr" and config.noise.rate == 0.2 and config.data.subset == 300
    assert config.run.checkpoint and not config.run.progress and config.run.out == str(tmp_path / "cells" / names[1])
    assert [c.reference for c in cells[:3]] == [True, False, False]
    assert not list(tmp_path.iterdir())  # expanding writes nothing


@pytest.mark.parametrize("changes, message", [
    ({"methods": ["ce", "nope"]}, "grid methods[1].name: unknown method 'nope'; choose one of:"),
    ({"methods": [{"name": "ce", "los": "gce"}]}, "grid methods[0].los: unknown key; allowed keys: name, label"),
    ({"sedes": [0]}, "grid sedes: unknown key; a grid has the keys"),
    ({"noise": [{"type": "symmetric", "rates": [40]}]}, "grid noise[0].rates[0]: a noise rate must be a fraction "
                                                        "in [0, 1], got 40 (a percentage? use 0.4)"),
    ({"noise": [{"type": "symmetric", "rates": []}]}, "grid noise[0].rates: must be a non-empty list"),
    ({"noise": [{"type": "salt", "rates": [0.2]}]}, "grid noise[0].type: unknown noise type 'salt'"),
    ({"methods": []}, "grid methods: must be a non-empty list"),
    ({"datasets": ["imagenet"]}, "grid datasets[0]: unknown dataset 'imagenet'"),
    ({"seeds": [0, -1]}, "grid seeds[1]: a seed must be a whole number >= 0"),
    ({"base": {"optim": {"epoch": 2}}}, "grid base: unknown key optim.epoch"),
    ({"base": {**BASE, "noise": {"rate": 0.2}}}, "grid base.noise: remove it: the noise list sets it"),
    ({"methods": [{"name": "ce", "loss": "gce", "loss_options": {"qq": 1}}]}, "grid methods[0].loss: loss 'gce' "
                                                                               "has no option qq"),
    ({"methods": ["ce", {"name": "rsl", "label": "ce"}]}, "grid: two cells are both named digits-symmetric0.4-ce-s0"),
    ({"methods": ["all", "ce", "all"]}, "grid methods: lists 'all' twice; give it once"),
])
def test_bad_grids_are_rejected_before_anything_is_written(tmp_path, changes, message):
    out = tmp_path / "out"
    with pytest.raises(NoisyLabelsError) as error:
        run_bench(grid(**changes), out)
    assert message in str(error.value)
    assert not out.exists()


def expected_cells(checked: dict) -> int:
    """(noise, rate) x methods, plus the clean ce cell when clean_ce is on, per dataset and seed."""
    settings = sum(len(n["rates"]) for n in checked["noise"])
    return len(checked["datasets"]) * len(checked["seeds"]) * (settings * len(checked["methods"]) + checked["clean_ce"])


def test_all_expands_to_every_registered_method_and_explicit_entries_replace_theirs(tmp_path):
    from noisylabels import METHODS

    rsl = {"name": "rsl", "options": {"stage1_epochs": 1}}
    checked = check_grid(grid(methods=["all", rsl, {"name": "ce", "label": "gce", "loss": "gce"}]))
    labels = [m["label"] for m in checked["methods"]]
    assert labels == [n for n in METHODS.names() if n != "rsl"] + ["rsl", "gce"]
    assert checked["methods"][labels.index("rsl")]["options"] == {"stage1_epochs": 1}
    assert all(m["options"] == {} for m in checked["methods"] if m["label"] != "rsl")
    cells = expand_grid(checked, tmp_path)
    assert len(cells) == expected_cells(checked) and cells[labels.index("ce") * 2].reference


@pytest.mark.parametrize("name", ["quick.yaml", "fashion_mnist.yaml"])
def test_shipped_grids_validate(tmp_path, name):
    from noisylabels import METHODS

    checked = check_grid(load_grid(GRIDS / name))
    cells = expand_grid(checked, tmp_path)
    assert len(cells) == expected_cells(checked)
    if name == "quick.yaml":  # `all`: a newly registered method joins it with no edit
        assert [m["label"] for m in checked["methods"]] == METHODS.names() + ["gce+sr"]
    else:  # explicit, so its cells stay those of the committed results
        committed = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "bench_fashion_mnist"
        with open(committed / "results.csv", newline="") as f:
            assert [c.name for c in cells] == [r["cell"] for r in csv.DictReader(f)]


# ---------------------------------------------------------------------- a finished grid
def test_bench_writes_rows_csv_and_markdown(finished):
    out, rows = finished
    assert len(rows) == 2 * 1 * 2 + 2 and all(r["status"] == "complete" for r in rows)
    table = read_csv(out)
    assert list(table[0]) == CSV_COLUMNS and [r["cell"] for r in table] == [r["cell"] for r in rows]
    assert CSV_COLUMNS.index("selected_acc") < CSV_COLUMNS.index("best_acc") < CSV_COLUMNS.index("last_acc")
    for row in table:
        assert row["epochs"] == "2" and float(row["best_acc"]) >= float(row["last_acc"]) > 0
        # the default noisy validation split picks the epoch; best_acc is the test-set oracle
        assert float(row["best_acc"]) >= float(row["selected_acc"]) > 0
        assert abs(float(row["selected_acc"]) - metrics_of(out, row["cell"])["selected_test_acc"]) < 1e-5
        assert row["run_dir"] == f"cells/{row['cell']}" and (out / row["run_dir"] / "checkpoint.pt").is_file()
        if row["method"] == "ce":  # every ce cell is its own reference, the clean ones included
            assert float(row["epoch_ratio"]) == 1.0
        else:
            assert float(row["epoch_ratio"]) > 0
        selects = row["method"] == "small_loss"  # only it reports selection precision / recall
        assert all(bool(row[k]) == selects for k in ("precision", "recall", "f1"))
    md = (out / "results.md").read_text()
    assert "| method | symmetric 40% |" in md and "**" in md and "±" in md
    # Selected, then last, then the oracle, labelled as such.
    heads = [md.index(h) for h in ("Selected test accuracy", "Last-epoch test accuracy", "Oracle best (test)")]
    assert heads == sorted(heads) and md.count("| method | symmetric 40% |") == 3
    assert md.count("| ce (clean labels) |") == 3 and "--jobs 1" in md and "Command: `noisylabels bench" in md
    assert yaml.safe_load((out / "grid.yaml").read_text())["name"] == "tiny"


def test_rerun_skips_every_complete_cell(finished, capsys):
    out, rows = finished
    stamps = {r["cell"]: (out / r["run_dir"] / "metrics.json").stat().st_mtime_ns for r in rows}
    again = run_bench(grid(), out)
    assert {r["cell"]: (out / r["run_dir"] / "metrics.json").stat().st_mtime_ns for r in again} == stamps
    assert [r["best_acc"] for r in again] == [r["best_acc"] for r in rows]
    assert capsys.readouterr().out.count("skipped: already complete") == len(rows)


def test_changed_config_trains_the_cells_again(tmp_path):
    g = grid(seeds=[0], clean_ce=False)
    run_bench(g, tmp_path)
    g["base"]["optim"]["epochs"] = 3
    rows = run_bench(g, tmp_path)
    assert all(r["status"] == "complete" and r["epochs"] == 3 for r in rows)


def test_interrupted_cell_is_resumed_and_matches_an_uninterrupted_run(finished, tmp_path, monkeypatch, capsys):
    target = "digits-symmetric0.4-small_loss-s0"
    run_epoch = Trainer._run_epoch

    def interrupt_second_epoch(self, epoch):
        if self.out.name == target and epoch == 1:
            raise KeyboardInterrupt
        return run_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "_run_epoch", interrupt_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_bench(grid(), tmp_path)
    status = {r["cell"]: r["status"] for r in read_csv(tmp_path)}  # the files were left consistent
    assert status[target] == "interrupted" and status["digits-symmetric0.4-small_loss-s1"] == "pending"
    monkeypatch.undo()
    capsys.readouterr()

    rows = run_bench(grid(), tmp_path)
    lines = [line for line in capsys.readouterr().out.splitlines() if target in line]
    assert len(lines) == 1 and lines[0].endswith("(resumed)")
    assert all(r["status"] == "complete" for r in rows)
    # Resuming on CPU ends where the uninterrupted run of the same cell ended.
    reference = {r["cell"]: r for r in finished[1]}
    for row in rows:
        assert [row[k] for k in ("selected_acc", "best_acc", "last_acc")] == [
            reference[row["cell"]][k] for k in ("selected_acc", "best_acc", "last_acc")]


def test_unusable_checkpoint_restarts_the_cell(tmp_path, capsys):
    g = grid(seeds=[0], clean_ce=False)
    run_bench(g, tmp_path)
    folder = tmp_path / "cells" / "digits-symmetric0.4-ce-s0"
    metrics = json.loads((folder / "metrics.json").read_text())
    (folder / "metrics.json").write_text(json.dumps({**metrics, "status": "interrupted"}))
    (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    rows = run_bench(g, tmp_path)
    out = capsys.readouterr().out
    assert "note: digits-symmetric0.4-ce-s0: cannot resume" in out and "starting it again from scratch" in out
    assert rows[0]["status"] == "complete" and metrics_of(tmp_path, rows[0]["cell"])["status"] == "complete"


def test_a_failing_cell_is_recorded_and_the_grid_goes_on(tmp_path, capsys):
    # rsl checks stage1_epochs against the epoch budget only when a run starts
    g = grid(methods=["ce", {"name": "rsl", "options": {"stage1_epochs": 5}}], seeds=[0], clean_ce=False)
    code = main(["bench", str(write_grid(tmp_path, g)), "--out", str(tmp_path / "out")])
    assert code == 1 and "1 cell(s) failed: digits-symmetric0.4-rsl-s0" in capsys.readouterr().err
    rows = {r["cell"]: r for r in read_csv(tmp_path / "out")}
    assert rows["digits-symmetric0.4-ce-s0"]["status"] == "complete"
    failed = rows["digits-symmetric0.4-rsl-s0"]
    assert failed["status"] == "failed" and "stage1_epochs" in failed["error"]
    assert metrics_of(tmp_path / "out", "digits-symmetric0.4-rsl-s0")["status"] == "failed"


# ---------------------------------------------------------------------- --jobs and the CLI
def test_two_jobs_give_the_same_rows_as_one(tmp_path):
    # the suite's example method is a plugin: spawned workers must load it too
    g = grid(seeds=[0], clean_ce=False, methods=[*TINY["methods"], "prediction_average"])
    one = run_bench(g, tmp_path / "one", jobs=1)
    two = run_bench(g, tmp_path / "two", jobs=2)
    keys = ("cell", "status", "selected_acc", "best_acc", "last_acc", "precision", "recall", "epochs")
    assert [[r[k] for k in keys] for r in two] == [[r[k] for k in keys] for r in one]


def write_grid(folder: Path, g: dict) -> Path:
    path = folder / "grid.yaml"
    path.write_text(yaml.safe_dump(g))
    return path


def test_cli_runs_a_grid_and_reports_a_bad_one_in_one_line(tmp_path, capsys):
    path = write_grid(tmp_path, grid(methods=["ce"], seeds=[0]))
    assert main(["bench", str(path), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[1/2] digits-symmetric0.4-ce-s0: selected") and lines[1].startswith("[2/2]")
    assert "oracle best" in lines[0]
    assert (tmp_path / "out" / "grid.yaml").read_text() == path.read_text()

    bad = write_grid(tmp_path, grid(methods=["cee"]))
    assert main(["bench", str(bad), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("noisylabels: error: grid methods[0].name: unknown method 'cee'") and err.count("\n") == 1
    assert not (tmp_path / "bad").exists()


def test_only_trains_the_matching_cells_and_lists_every_cell(tmp_path):
    g = grid(seeds=[0], clean_ce=False)
    rows = run_bench(g, tmp_path, only=("*-ce-s0",))
    trained = {r["cell"] for r in rows if r["status"] == "complete"}
    assert trained and all(name.endswith("-ce-s0") for name in trained)
    assert {r["status"] for r in rows if r["cell"] not in trained} == {"pending"}
    rows = run_bench(g, tmp_path)  # the rest, later: the finished cells are skipped
    assert {r["status"] for r in rows} == {"complete"}
    with pytest.raises(NoisyLabelsError, match="--only nothing matches no cell"):
        run_bench(g, tmp_path, only=("nothing",))
