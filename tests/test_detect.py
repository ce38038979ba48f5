"""`noisylabels detect` end to end on the bundled digits (small, fast), through the CLI."""
import csv
import json

import pytest

from noisylabels.cli import main
from noisylabels.detect import training_config
from noisylabels import Config

FLAGS = ["--dataset", "digits", "--subset", "400", "--model", "mlp", "--epochs", "10", "--noise", "symmetric",
         "--noise-rate", "0.3", "--no-progress", "--set", "run.plots=false", "--no-checkpoint"]


def read_issues(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("detector", ["rsl", "small_loss", "aum", "dividemix", "confident"])
def test_detect_writes_ranked_issues_and_scores_them(detector, tmp_path, capsys):
    out = tmp_path / detector
    assert main(["detect", "--method", detector, "--out", str(out), *FLAGS]) == 0
    rows = read_issues(out / "label_issues.csv")
    result = json.loads((out / "detection.json").read_text())
    assert len(rows) == result["samples"] and [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    assert sorted(int(r["index"]) for r in rows) == list(range(len(rows)))
    assert set(rows[0]) == {"index", "given_label", "suggested_label", "score", "rank", "flag", "true_label"}
    scores = [float(r["score"]) for r in rows]
    assert scores == sorted(scores)  # most suspicious (lowest quality) first
    assert result["detector"] == detector and result["flagged"] == sum(int(r["flag"]) for r in rows)
    assert result["trainings"] == (2 if detector == "confident" else 1)
    # 30% of the labels are wrong: every detector beats flagging at random (precision 0.3), even
    # after these few epochs of a small network.
    assert result["precision"] > 0.36 and "f1" in result
    assert "precision" in capsys.readouterr().out


def test_detect_reads_a_finished_run_and_draws_a_contact_sheet(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "--method", "ce", "--out", str(run), *FLAGS]) == 0
    assert main(["detect", "--method", "small_loss", "--run", str(run), "--out", str(tmp_path / "ignored"),
                 *FLAGS]) == 0
    assert json.loads((run / "detection.json").read_text())["trainings"] == 0
    sheet = tmp_path / "sheet"
    assert main(["detect", "--method", "rsl", "--contact-sheet", "--out", str(sheet), *FLAGS]) == 0
    assert (sheet / "label_issues.png").stat().st_size > 1000


def test_aum_detection_splits_the_budget_into_two_runs():
    config = Config.from_dict({"optim": {"epochs": 9}})
    trained = training_config(config, "aum")
    assert trained.method.name == "aum" and trained.optim.epochs == 8
    assert trained.method.options == {"runs": 2, "detect_epochs": 4, "retrain": False}


def test_detection_trains_on_every_sample_without_a_validation_split():
    config = Config.from_dict({"data": {"val_fraction": 0.2}})
    assert all(training_config(config, d).data.val_fraction == 0 for d in ("aum", "small_loss", "rsl"))


@pytest.mark.parametrize("args, message", [
    (["--method", "cleanlab"], "unknown detector 'cleanlab'"),
    (["--method", "confident", "--run", "x"], "needs cross-validated probabilities"),
    (["--method", "rsl", "--run", "does-not-exist"], "does-not-exist"),
    (["--method", "confident", "--folds", "1"], "at least 2"),
])
def test_bad_detect_input(args, message, tmp_path, capsys):
    assert main(["detect", *args, "--out", str(tmp_path / "o"), *FLAGS]) == 2
    assert message in capsys.readouterr().err
