import csv
import json

import numpy as np
import pandas
import pytest
import torch
from hypothesis import given, settings, strategies as st

import noisylabels
from noisylabels import (NoisyLabelsError, detection_metrics, find_label_issues, label_quality_scores,
                         rank_label_issues, suggested_labels, write_label_issues_csv)
from noisylabels.detection import confident_learning_issues, flag_per_class
from noisylabels.detection.scores import classwise_quality
from noisylabels.methods import METHODS

FAST = settings(max_examples=30, deadline=None, database=None)
N = 40


def write_run(folder, method="ce", values=None, metrics=True):
    """A run folder as `noisylabels train` leaves it: stats.pt (+ metrics.json)."""
    gen = torch.Generator().manual_seed(0)
    loss = torch.rand(5, N, generator=gen)
    loss[0, 3] = float("nan")
    prediction = torch.randint(0, 3, (N,), generator=gen)
    prediction[7] = -1
    stats = {"loss": loss, "margin": torch.randn(5, N, generator=gen), "prediction": prediction,
             "values": values or {}}
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(stats, folder / "stats.pt")
    if metrics:  # what the training method declares about itself, as the engine records it
        info = METHODS.get(method).info.to_dict()
        (folder / "metrics.json").write_text(json.dumps({"status": "complete", "method": method, "method_info": info}))
    return stats


@pytest.fixture
def labels():
    return np.arange(N) % 3


def test_exported_from_the_top_level():
    for name in ("Recorder", "label_quality_scores", "rank_label_issues", "find_label_issues", "suggested_labels",
                 "write_label_issues_csv", "label_issues_dataframe", "detection_metrics"):
        assert name in noisylabels.__all__ and hasattr(noisylabels, name)


@pytest.mark.parametrize("run_method, values, expected", [
    ("ce", {}, "rsl_all_epochs"), ("rsl", {"score": torch.linspace(0, 1, N)}, "rsl_score"),
    ("coteaching", {}, "small_loss"), ("dividemix", {"clean_prob": torch.linspace(1, 0, N)}, "clean_prob"),
    ("mentormix", {"mentor_weight": torch.linspace(0, 1, N)}, "mentor_weight"), ("aum", {}, "aum"),
    ("aum", {"aum": torch.linspace(-1, 1, N)}, "aum_values"),
])
def test_auto_picks_the_score_of_the_run_method(tmp_path, labels, run_method, values, expected):
    stats = write_run(tmp_path / "run", run_method, values)
    loss, margin = stats["loss"].numpy(), stats["margin"].numpy()
    reference = {
        "rsl_all_epochs": classwise_quality(np.nanmean(loss, 0), labels),
        "rsl_score": classwise_quality(np.linspace(0, 1, N), labels),
        "small_loss": -loss[-1], "clean_prob": np.linspace(1, 0, N), "mentor_weight": np.linspace(0, 1, N),
        "aum": margin.mean(0), "aum_values": np.linspace(-1, 1, N),
    }[expected]
    got = label_quality_scores(labels, run=tmp_path / "run")
    assert got.shape == (N,) and np.allclose(got, reference, atol=1e-5)
    assert rank_label_issues(labels, run=str(tmp_path / "run")).tolist() == np.argsort(got, kind="stable").tolist()
    mask = find_label_issues(labels, run=tmp_path / "run", noise_rates=0.25)
    assert mask.tolist() == flag_per_class(got, labels, noise_rates=0.25).tolist()


def test_explicit_method_needs_no_metrics_json_and_suggestions_come_from_the_run(tmp_path, labels):
    stats = write_run(tmp_path / "run", metrics=False)
    assert np.allclose(label_quality_scores(labels, run=tmp_path / "run", method="aum"), stats["margin"].mean(0))
    suggested = suggested_labels(labels, run=tmp_path / "run")
    assert suggested[7] == labels[7] and (np.delete(suggested, 7) == np.delete(stats["prediction"].numpy(), 7)).all()


def test_run_errors_say_what_to_do(tmp_path, labels):
    run = tmp_path / "run"
    with pytest.raises(NoisyLabelsError, match="does not exist; pass the --out folder"):
        label_quality_scores(labels, run=run)
    run.mkdir()
    with pytest.raises(NoisyLabelsError, match=r"stats.pt not found: .*let the run finish"):
        label_quality_scores(labels, run=run)
    (run / "stats.pt").write_bytes(b"not a torch file")
    with pytest.raises(NoisyLabelsError, match=r"could not read .*stats.pt .*corrupt.*re-run the training"):
        label_quality_scores(labels, run=run)
    torch.save({"loss": torch.zeros(3)}, run / "stats.pt")
    with pytest.raises(NoisyLabelsError, match="is not a noisylabels stats file"):
        label_quality_scores(labels, run=run)
    write_run(run, metrics=False)
    with pytest.raises(NoisyLabelsError, match=r"metrics.json not found.*pass method= explicitly"):
        label_quality_scores(labels, run=run)
    (run / "metrics.json").write_text("{broken")
    with pytest.raises(NoisyLabelsError, match=r"could not read .*metrics.json"):
        label_quality_scores(labels, run=run)
    # a run folder from before methods declared their metadata, or of a method not known here:
    # an error, never a silent fallback to another score
    (run / "metrics.json").write_text(json.dumps({"status": "complete", "method": "elr"}))
    with pytest.raises(NoisyLabelsError, match=r"no method_info for method 'elr'.*pass method= explicitly"):
        label_quality_scores(labels, run=run)
    (run / "metrics.json").write_text(json.dumps({"method": "x", "method_info": {"quality": {"colour": 1}}}))
    with pytest.raises(NoisyLabelsError, match=r"not a label-quality description"):
        label_quality_scores(labels, run=run)
    with pytest.raises(NoisyLabelsError, match=r"labels have 39 entries but run .* has 40 training samples"):
        label_quality_scores(labels[:-1], run=run, method="aum")
    with pytest.raises(NoisyLabelsError, match=r"no 'clean_prob' values in stats.pt .*does not apply"):
        label_quality_scores(labels, run=run, method="clean_prob")


def test_method_and_source_errors(labels):
    probs = np.full((N, 3), 1 / 3)
    with pytest.raises(NoisyLabelsError, match="unknown method 'gmm'; choose one of: aum, auto, classwise_loss, clean_prob, confident"):
        label_quality_scores(labels, pred_probs=probs, method="gmm")
    with pytest.raises(NoisyLabelsError, match="method 'classwise_loss' needs run=; with pred_probs= choose one of"):
        label_quality_scores(labels, pred_probs=probs, method="classwise_loss")
    with pytest.raises(NoisyLabelsError, match=r"exactly one of .*\(got none\)"):
        rank_label_issues(labels)
    with pytest.raises(NoisyLabelsError, match=r"\(got scores= and pred_probs=\)"):
        find_label_issues(labels, scores=np.zeros(N), pred_probs=probs)
    with pytest.raises(NoisyLabelsError, match="filter_by applies to pred_probs="):
        find_label_issues(labels, scores=np.zeros(N), filter_by="both")
    with pytest.raises(NoisyLabelsError, match="NaN at indices"):
        label_quality_scores(labels, scores=np.r_[np.nan, np.zeros(N - 1)])
    with pytest.raises(NoisyLabelsError, match="need pred_probs= or run="):
        suggested_labels(labels)


def test_pred_probs_source_is_confident_learning(labels):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), N)
    assert np.allclose(label_quality_scores(labels, pred_probs=probs), probs[np.arange(N), labels])
    for filter_by in (None, "both"):
        expected = confident_learning_issues(labels, probs, filter_by or "prune_by_noise_rate")
        assert (find_label_issues(labels, pred_probs=probs, filter_by=filter_by) == expected).all()
    margin = label_quality_scores(labels, pred_probs=torch.tensor(probs), method="normalized_margin")
    assert np.allclose(margin, probs[np.arange(N), labels] - np.where(np.eye(3)[labels] > 0, -1, probs).max(1))
    assert (suggested_labels(labels, pred_probs=probs) == probs.argmax(1)).all()


def test_csv_is_ranked_and_complete(tmp_path):
    labels, truth = np.array([0, 1, 1, 0]), np.array([0, 0, 1, 0])
    quality = np.array([0.9, 0.1, np.nan, 0.5])
    path = write_label_issues_csv(tmp_path / "out" / "issues.csv", labels, quality, [False, True, False, False],
                                  [0, 0, 1, 0], true_labels=truth)
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert list(rows[0]) == ["index", "given_label", "suggested_label", "score", "rank", "flag", "true_label"]
    assert [r["index"] for r in rows] == ["1", "3", "0", "2"] and [r["rank"] for r in rows] == ["1", "2", "3", "4"]
    assert rows[0]["flag"] == "1" and rows[0]["true_label"] == "0" and rows[3]["score"] == "nan"
    assert [p.name for p in path.parent.iterdir()] == ["issues.csv"]  # no temporary file left
    with pytest.raises(NoisyLabelsError, match="suggested must have one entry per sample"):
        write_label_issues_csv(tmp_path / "x.csv", labels, quality, [0, 1, 0, 0], [0, 0])


def test_dataframe_is_the_csv_table(tmp_path):
    labels, truth = np.array([0, 1, 1, 0]), np.array([0, 0, 1, 0])
    quality, mask, suggested = np.array([0.9, 0.1, np.nan, 0.5]), [False, True, False, False], [0, 0, 1, 0]
    frame = noisylabels.label_issues_dataframe(labels, quality, mask, suggested, true_labels=truth)
    path = write_label_issues_csv(tmp_path / "issues.csv", labels, quality, mask, suggested, true_labels=truth)
    from_csv = pandas.read_csv(path)
    assert list(frame.columns) == list(from_csv.columns) and frame["flag"].dtype == bool
    assert (frame["index"] == from_csv["index"]).all() and (frame["flag"] == from_csv["flag"].astype(bool)).all()
    assert np.allclose(frame["score"], from_csv["score"], equal_nan=True)
    with pytest.raises(NoisyLabelsError, match="suggested must have one entry per sample"):
        noisylabels.label_issues_dataframe(labels, quality, mask, [0, 0])


def test_detection_metrics():
    m = detection_metrics([True, True, False, False], [0, 1, 1, 0], [0, 0, 0, 0])
    assert m == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "flagged": 2, "mislabeled": 2}
    assert detection_metrics([False, False], [0, 1], [0, 1])["precision"] == 0.0


@FAST
@given(st.integers(1, 50), st.integers(2, 5), st.integers(0, 2**32 - 1))
def test_rank_is_a_permutation_and_masks_are_boolean(n, k, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    probs = rng.dirichlet(np.ones(k), n)
    quality = rng.integers(0, 4, n).astype(float)
    for source in ({"scores": quality}, {"pred_probs": probs}):
        order = rank_label_issues(labels, **source)
        assert sorted(order.tolist()) == list(range(n))
        ranked = label_quality_scores(labels, **source)[order]
        assert (np.diff(ranked) >= 0).all()
        mask = find_label_issues(labels, **source)
        assert mask.dtype == bool and mask.shape == (n,)


@FAST
@given(st.integers(1, 50), st.integers(1, 4), st.integers(0, 2**32 - 1), st.floats(0, 1))
def test_scores_ranking_and_flags_are_invariant_to_increasing_transforms(n, k, seed, rate):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    quality = rng.normal(size=n)
    transformed = np.exp(3 * quality) + 7  # strictly increasing: same order
    assert (rank_label_issues(labels, scores=quality) == rank_label_issues(labels, scores=transformed)).all()
    assert np.array_equal(label_quality_scores(labels, scores=quality), quality)
    assert (find_label_issues(labels, scores=quality, noise_rates=rate)
            == find_label_issues(labels, scores=transformed, noise_rates=rate)).all()


@FAST
@given(st.integers(2, 40), st.integers(2, 4), st.integers(0, 2**32 - 1))
def test_pred_probs_scores_follow_a_sample_permutation(n, k, seed):
    rng = np.random.default_rng(seed)
    labels, probs, order = rng.integers(0, k, n), rng.dirichlet(np.ones(k), n), rng.permutation(n)
    for method in ("confident", "normalized_margin"):
        quality = label_quality_scores(labels, pred_probs=probs, method=method)
        assert np.allclose(label_quality_scores(labels[order], pred_probs=probs[order], method=method), quality[order])
