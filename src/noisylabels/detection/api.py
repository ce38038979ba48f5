"""One label-issue API over three sources: your own scores, out-of-sample pred_probs, or a run folder.

Give exactly one of ``scores=`` ((N,) quality, higher = cleaner), ``pred_probs=`` ((N, K)
probabilities: confident learning) or ``run=`` (a folder written by ``noisylabels train``).
Every function returns numpy arrays; quality is "lower = more likely mislabeled".
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple, Optional, Union

import numpy as np

from .. import rundir
from ..errors import NoisyLabelsError
from ..io import atomic_path
from ..quality import NAMED, LabelQuality
from .confident import check_filter_by, confident_learning_issues, normalized_margin, self_confidence
from .run_quality import run_quality
from .scores import flag_per_class, rank_order
from .validate import check_labels, check_mask, check_pred_probs, check_scores

METHODS = {
    "scores": ("auto",),
    "pred_probs": ("auto", "confident", "normalized_margin"),
    # auto: the score the run's training method declares (metrics.json -> method_info.quality)
    "run": ("auto", *NAMED),
}


class Run(NamedTuple):
    folder: Path
    stats: dict  # stats.pt: loss (E, N), margin (E, N), prediction (N,), values {name: (N, ...)}


class Source(NamedTuple):
    kind: str  # scores | pred_probs | run
    labels: np.ndarray
    method: Union[str, LabelQuality]  # for a run: the resolved LabelQuality
    data: object  # the scores array, the pred_probs array or the Run


# ---------------------------------------------------------------------- run folders
def load_run(run) -> Run:
    """Read ``stats.pt`` of a run folder, with errors that say what to do."""
    folder = Path(run)
    return Run(folder, rundir.read_stats(folder))


def run_quality_spec(folder: Path) -> LabelQuality:
    """The label-quality score the run's training method declared (``method="auto"``)."""
    info = rundir.read_method_info(folder)
    return LabelQuality.from_dict(info.get("quality"), str(folder / rundir.METRICS))


# ---------------------------------------------------------------------- sources
def _source(labels, scores, pred_probs, run, method: str) -> Source:
    given = {kind: value for kind, value in (("scores", scores), ("pred_probs", pred_probs), ("run", run))
             if value is not None}
    if len(given) != 1:
        got = " and ".join(f"{k}=" for k in given) or "none"
        raise NoisyLabelsError(f"give exactly one of scores=, pred_probs= or run= (got {got})")
    (kind, data), = given.items()
    every = sorted({m for methods in METHODS.values() for m in methods})
    if method not in every:
        raise NoisyLabelsError(f"unknown method {method!r}; choose one of: {', '.join(every)}")
    if method not in METHODS[kind]:
        needs = next(k for k, methods in METHODS.items() if method in methods)
        raise NoisyLabelsError(f"method {method!r} needs {needs}=; with {kind}= choose one of: "
                               f"{', '.join(METHODS[kind])}")
    labels = check_labels(labels)
    if kind == "scores":
        data = check_scores(data, labels)
    elif kind == "pred_probs":
        data = check_pred_probs(data, labels)
    else:
        data = load_run(data)
        size = data.stats["loss"].shape[1]
        if size != len(labels):
            raise NoisyLabelsError(f"labels have {len(labels)} entries but run {data.folder} has {size} training "
                                   "samples; pass the run's training labels (the 'label' column of its samples.csv)")
        method = run_quality_spec(data.folder) if method == "auto" else NAMED[method]
    return Source(kind, labels, method, data)


def _quality(source: Source) -> np.ndarray:
    if source.kind == "scores":
        return source.data
    if source.kind == "pred_probs":
        score = normalized_margin if source.method == "normalized_margin" else self_confidence
        return score(source.labels, source.data)
    folder, stats = source.data
    return run_quality(stats, source.labels, source.method, str(folder))


# ---------------------------------------------------------------------- public functions
def label_quality_scores(labels, *, scores=None, pred_probs=None, run=None, method: str = "auto") -> np.ndarray:
    """(N,) float64 label quality, lower = more likely mislabeled (NaN: a run never recorded the sample).

    pred_probs: ``auto``/``confident`` = self-confidence p_y, ``normalized_margin`` = p_y - max_{k!=y} p_k.
    run: ``auto`` (the score the run's training method declares in metrics.json), or by name:
    ``classwise_loss`` (class-wise normalised epoch-mean loss, RSL's criterion), ``small_loss``
    (minus the last loss), ``aum`` (area under the margin), ``clean_prob`` (a GMM clean
    probability, DivideMix's) or ``mentor_weight`` (a MentorNet weight).
    """
    return _quality(_source(labels, scores, pred_probs, run, method))


def rank_label_issues(labels, *, scores=None, pred_probs=None, run=None, method: str = "auto") -> np.ndarray:
    """(N,) int64 sample indices from most to least suspicious (ties by index, NaN scores last)."""
    return rank_order(label_quality_scores(labels, scores=scores, pred_probs=pred_probs, run=run, method=method))


def find_label_issues(labels, *, scores=None, pred_probs=None, run=None, method: str = "auto", noise_rates=None,
                      filter_by: Optional[str] = None) -> np.ndarray:
    """(N,) bool, True = likely mislabeled.

    pred_probs without noise_rates: confident learning with ``filter_by`` (default
    "prune_by_noise_rate", as cleanlab). Otherwise: per class, the round(rate * n) lowest-quality
    samples, rates from ``noise_rates`` (one or one per class) or a per-class 2-component GMM.
    """
    source = _source(labels, scores, pred_probs, run, method)
    if filter_by is not None:
        if source.kind != "pred_probs" or noise_rates is not None:
            raise NoisyLabelsError("filter_by applies to pred_probs= without noise_rates= only; drop filter_by")
        check_filter_by(filter_by)
    if source.kind == "pred_probs" and noise_rates is None:
        return confident_learning_issues(source.labels, source.data, filter_by or "prune_by_noise_rate")
    num_classes = source.data.shape[1] if source.kind == "pred_probs" else None
    return flag_per_class(_quality(source), source.labels, num_classes, noise_rates)


def suggested_labels(labels, *, pred_probs=None, run=None) -> np.ndarray:
    """(N,) int64 the model's label: argmax of pred_probs, or a run's last stored prediction
    (the given label where the run never predicted the sample)."""
    if pred_probs is None and run is None:
        raise NoisyLabelsError("suggested labels need pred_probs= or run= (quality scores carry no class information)")
    # any named score will do: suggestions do not depend on it, and a name skips reading metrics.json
    source = _source(labels, None, pred_probs, run, "auto" if pred_probs is not None else "small_loss")
    if source.kind == "pred_probs":
        return source.data.argmax(1).astype(np.int64)
    prediction = source.data.stats["prediction"].numpy().astype(np.int64)
    return np.where(prediction >= 0, prediction, source.labels)


def _label_issue_rows(labels, quality, mask, suggested, true_labels) -> tuple[list[str], list[list]]:
    """The label-issues table (header, rows), most suspicious first; inputs checked."""
    labels = check_labels(labels)
    quality = check_scores(quality, labels, "quality", allow_nan=True)
    mask = check_mask(mask, labels)
    suggested = check_labels(suggested, name="suggested", length=len(labels))
    truth = None if true_labels is None else check_labels(true_labels, name="true_labels", length=len(labels))
    header = ["index", "given_label", "suggested_label", "score", "rank", "flag"] + ([] if truth is None else
                                                                                      ["true_label"])
    rows = [[i, int(labels[i]), int(suggested[i]), float(quality[i]), rank, int(mask[i])]
            + ([] if truth is None else [int(truth[i])]) for rank, i in enumerate(rank_order(quality).tolist(), 1)]
    return header, rows


def write_label_issues_csv(path, labels, quality, mask, suggested, true_labels=None) -> Path:
    """Write ``index, given_label, suggested_label, score, rank, flag`` (+ ``true_label``), most
    suspicious first, atomically. Returns the path."""
    header, rows = _label_issue_rows(labels, quality, mask, suggested, true_labels)
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([*row[:3], f"{row[3]:.6g}", *row[4:]] for row in rows)
    return path


def label_issues_dataframe(labels, quality, mask, suggested, true_labels=None):
    """The table ``write_label_issues_csv`` writes, as a pandas DataFrame (full-precision scores),
    most suspicious first. Needs pandas (``pip install 'noisylabels[pandas]'``)."""
    try:
        import pandas
    except ImportError:
        raise NoisyLabelsError("label_issues_dataframe needs pandas; pip install 'noisylabels[pandas]' (or use "
                               "write_label_issues_csv)") from None
    header, rows = _label_issue_rows(labels, quality, mask, suggested, true_labels)
    frame = pandas.DataFrame(rows, columns=header)
    return frame.astype({"flag": bool})


def detection_metrics(mask, labels, true_labels) -> dict:
    """Precision, recall and F1 of the flagged set against the truth (0 where undefined), and the
    counts ``flagged`` and ``mislabeled``."""
    labels = check_labels(labels)
    mask = check_mask(mask, labels)
    truth = check_labels(true_labels, name="true_labels", length=len(labels))
    wrong = labels != truth
    hits = int((mask & wrong).sum())
    flagged, mislabeled = int(mask.sum()), int(wrong.sum())
    precision = hits / flagged if flagged else 0.0
    recall = hits / mislabeled if mislabeled else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "flagged": flagged, "mislabeled": mislabeled}
