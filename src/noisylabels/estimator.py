"""``NoisyLabelClassifier``: a scikit-learn classifier trained by the noisylabels engine.

``fit(X, y)`` standardises the features, maps the labels to 0..K-1, trains one run of the engine
on all of X (no validation split, so every sample gets a label-quality score) and keeps the
trained network(s) on the CPU for ``predict_proba``. It also answers which labels look wrong:
``label_quality_`` (lower = more likely mislabeled), ``label_issues_`` and ``noise_rate_``, read
from the run with the label-issue API (``noisylabels.detection``), in the order of the samples.
"""
from __future__ import annotations

import random
import tempfile
from numbers import Integral
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .config import Config
from .data.dataset import LabeledData, Splits
from .detection import find_label_issues, label_quality_scores, load_run
from .detection.api import run_quality_spec
from .detection.run_quality import own_flags
from .engine import Trainer
from .errors import NoisyLabelsError
from .losses import LOSSES
from .methods import METHODS
from .methods.base import FUNCTIONS
from .models import MODELS

# The engine evaluates a test split after every epoch and prepare_data would hold out 20% of the
# training data as one if none were given. The estimator scores every sample instead, so it passes
# the first rows of the training data as the "test" split: that accuracy (metrics_) is unused.
ENGINE_TEST_ROWS = 256
PREDICT_BATCH = 4096  # rows per forward pass in predict_proba


class NoisyLabelClassifier(ClassifierMixin, BaseEstimator):
    """A deep classifier trained on labels that may be partly wrong, as a scikit-learn estimator.

    Parameters
    ----------
    method : str, default="ce"
        A registered training method (``noisylabels list``): ``ce``, ``small_loss``,
        ``coteaching``, ``aum``, ``dividemix``, ... The default, standard training with the robust
        ``gce`` loss, needs no noise rate and costs one network.
    loss : str, default="gce"
        The per-sample loss the method trains with (``noisylabels.LOSSES``): generalized
        cross-entropy by default, which resists wrong labels (why: the comment on ``__init__``);
        ``"ce"`` for plain cross-entropy.
    model : str, default="mlp"
        A registered model (``noisylabels.MODELS``); ``mlp`` flattens any input.
    epochs : int, default=30
        Passes over the training data.
    batch_size : int, default=64
    lr : float or None, default=None
        Learning rate; None: the engine's default (SGD with Nesterov momentum, 0.05, cosine schedule).
    method_options, loss_options, model_options : dict or None, default=None
        Options of the method, the loss and the model, e.g. ``model_options={"hidden_sizes": [64]}``.
    optim_options : dict or None, default=None
        Other keys of the config's ``optim`` section, e.g. ``{"name": "adam", "weight_decay": 0}``.
    random_state : int, RandomState instance or None, default=0
        Seeds weights and batch order. The same seed gives the same fit on the CPU of one machine.
    device : str, default="cpu"
        ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or ``auto``; the fitted model is kept on the CPU.
    run_dir : str, Path or None, default=None
        Keep the run folder (metrics.json, samples.csv, stats.pt) here; it must not exist or be
        empty. None: a temporary folder, removed at the end of ``fit``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels in sorted order; class k of the network is ``classes_[k]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of a DataFrame X (only then).
    mean_, scale_ : ndarray of shape (n_features,)
        The training statistics the features are standardised with (scale 1 for constant features).
    label_quality_ : ndarray of shape (n_samples,)
        Per training sample, the quality the method declares (lower = more likely mislabeled);
        for ``ce``: the class-wise normalised epoch-mean loss.
    label_issues_ : ndarray of shape (n_samples,), bool
        True = likely mislabeled: the method's own flags where it decides them (aum, dividemix),
        else per class the lowest-quality samples, as many as a 2-component GMM estimates.
    noise_rate_ : float
        The share of training samples flagged (``label_issues_.mean()``), the estimate of the
        noise rate that the flags imply.
    networks_ : list of torch.nn.Module
        The trained network(s), in eval mode on the CPU.
    method_ : noisylabels.Method
        The trained method (its ``predict`` combines the networks).
    metrics_ : dict
        The run's metrics (metrics.json): per-epoch training loss and accuracy, the method's report.
    """

    # Default ce + gce. The estimator returns the last epoch (no validation split to pick one), needs
    # no noise rate and should cost one network. Last-epoch test accuracy on Fashion-MNIST
    # (benchmarks/CLAIMS.md): GCE 88.6 vs CE 82.0 at symmetric 40% (20k images, 20 epochs), 78.1 vs
    # 49.3 at symmetric 50% and 56.7 vs 53.9 at pair 40% (8k, 40 epochs). self_ensemble does better
    # there but needs a validation split; the small-loss family needs a rate estimate, which runs
    # high on clean data (docs/methods/index.md). examples/sklearn_digits.py (20% flipped): clean-test
    # accuracy 0.964 with gce, 0.880 with ce.
    # ce's label quality, the class-wise epoch-mean loss, is recorded for every sample every epoch.
    def __init__(self, method="ce", loss="gce", model="mlp", epochs=30, batch_size=64, lr=None,
                 method_options=None, loss_options=None, model_options=None, optim_options=None,
                 random_state=0, device="cpu", run_dir=None):
        # scikit-learn's rule: store the parameters as given; fit validates them.
        self.method = method
        self.loss = loss
        self.model = model
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.method_options = method_options
        self.loss_options = loss_options
        self.model_options = model_options
        self.optim_options = optim_options
        self.random_state = random_state
        self.device = device
        self.run_dir = run_dir

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Seeded CPU training repeats exactly on one machine; GPU kernels need not.
        tags.non_deterministic = self.device != "cpu"
        return tags

    # ------------------------------------------------------------------ fit
    def fit(self, X, y):
        """Train on X with the labels y, which may be partly wrong.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)
            Numeric features (encode categorical columns first, e.g. in a Pipeline).
        y : array-like of shape (n_samples,), or the name of a column of the DataFrame X
            Labels of any type numpy can sort (strings, integers such as [-3, 7, 100]); with a
            column name the other columns are the features.

        Returns
        -------
        self
        """
        X, y = _label_column(X, y)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        classes, labels = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise NoisyLabelsError(f"{type(self).__name__} needs labels of at least 2 classes, got 1 class "
                                   f"({classes[0]})")
        config = self._config()  # every parameter is checked before any training
        seed = _seed(self.random_state)
        mean, scale = X.mean(0, dtype=np.float64), X.std(0, dtype=np.float64)
        scale[scale == 0] = 1.0  # a constant feature stays 0, as StandardScaler leaves it
        train = LabeledData(torch.from_numpy(((X - mean) / scale).astype(np.float32)),
                            torch.from_numpy(labels.astype(np.int64)), len(classes), name="X")
        test = train.subset(torch.arange(min(len(train), ENGINE_TEST_ROWS)))
        with _global_rng_kept():  # the engine seeds Python's, numpy's and torch's global generators
            trainer, quality, flags, metrics = _train(config.replace(run={"seed": seed}), Splits(train, test),
                                                      self.run_dir, labels)
        self.classes_, self.mean_, self.scale_ = classes, mean, scale
        self.label_quality_, self.label_issues_ = quality, flags
        self.noise_rate_ = float(flags.mean())
        self.networks_, self.method_ = _for_prediction(trainer)
        self.metrics_ = metrics
        return self

    def _config(self) -> Config:
        """The run's config from the parameters; unknown names and bad values are one-line errors."""
        for registry, name in ((METHODS, self.method), (LOSSES, self.loss), (MODELS, self.model)):
            if not isinstance(name, str):
                raise NoisyLabelsError(f"{registry.kind} must be a name, got {name!r}; choose one of: "
                                       f"{', '.join(registry.names())}")
            registry.get(name)  # unknown: "unknown method 'x'; choose one of: ..."
        options = {"method_options": self.method_options, "loss_options": self.loss_options,
                   "model_options": self.model_options, "optim_options": self.optim_options}
        for key, value in options.items():
            if value is not None and not isinstance(value, dict):
                raise NoisyLabelsError(f"{key} must be a dict of option names to values or None, got {value!r}")
        optim = {**(self.optim_options or {}), "epochs": self.epochs, "batch_size": self.batch_size}
        if self.lr is not None:
            optim["lr"] = self.lr
        if not isinstance(self.device, str):
            raise NoisyLabelsError(f"device must be a string such as 'cpu' or 'cuda', got {self.device!r}")
        return Config.from_dict({
            # Every sample is trained on and scored: no validation split, no augmentation of rows.
            "data": {"name": "arrays", "val_fraction": 0.0, "augment": "none"},
            "model": {"name": self.model, "options": dict(self.model_options or {})},
            "optim": optim,
            "method": {"name": self.method, "options": dict(self.method_options or {}),
                       "loss": self.loss, "loss_options": dict(self.loss_options or {})},
            "run": {"device": self.device, "checkpoint": False, "plots": False, "progress": False},
        })

    # ------------------------------------------------------------------ predict
    def predict_proba(self, X):
        """Class probabilities of the method's prediction.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        x = torch.from_numpy(((X - self.mean_) / self.scale_).astype(np.float32))
        nets = _Networks(self.networks_)
        with torch.no_grad():
            logits = torch.cat([self.method_.predict(nets, x[i:i + PREDICT_BATCH])
                                for i in range(0, len(x), PREDICT_BATCH)])
        return torch.softmax(logits.double(), 1).numpy()

    def predict(self, X):
        """The most probable class of each row, as a label of ``classes_``.

        Parameters
        ----------
        X : array-like or pandas DataFrame of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(1)]


class _Networks:
    """What a method's ``predict`` needs of the trainer after fit: ``forward(net, x)``."""

    def __init__(self, models):
        self.models = models

    def forward(self, net: int, x: torch.Tensor) -> torch.Tensor:
        return self.models[net](x).float()


def _label_column(X, y):
    """``fit(df, "label")``: the label column out of the DataFrame, the rest as features."""
    columns = getattr(X, "columns", None)
    if not (isinstance(y, str) or (columns is not None and np.isscalar(y))):
        return X, y  # labels (validated later), not a name
    if columns is None:
        raise NoisyLabelsError(f"y={y!r} is a single value; pass one label per row of X, or a pandas DataFrame "
                               "X and the name of its label column")
    if y not in columns:
        raise NoisyLabelsError(f"y={y!r} is not a column of X; its columns are: {', '.join(map(str, columns))}")
    return X.drop(columns=[y]), X[y]


def _seed(random_state) -> int:
    """An int seed for the engine from scikit-learn's random_state conventions."""
    if isinstance(random_state, Integral) and not isinstance(random_state, bool):
        if not 0 <= random_state < 2**32:
            raise NoisyLabelsError(f"random_state must be in [0, 2**32), got {random_state}")
        return int(random_state)
    if random_state is not None and not isinstance(random_state, np.random.RandomState):
        raise NoisyLabelsError(f"random_state must be an int, a numpy RandomState or None, got {random_state!r}")
    return int(check_random_state(random_state).randint(2**31 - 1))


class _global_rng_kept:
    """Restore Python's, numpy's and torch's global random state on exit: fitting an estimator
    should not reseed the caller's generators."""

    def __enter__(self):
        self.states = random.getstate(), np.random.get_state(), torch.get_rng_state()

    def __exit__(self, *exc):
        random.setstate(self.states[0])
        np.random.set_state(self.states[1])
        torch.set_rng_state(self.states[2])


def _train(config: Config, splits: Splits, run_dir, labels: np.ndarray):
    """Train one run in ``run_dir`` (or a temporary folder); return the trainer, label quality,
    flags and metrics."""
    if run_dir is None:
        with tempfile.TemporaryDirectory(prefix="noisylabels-") as folder:
            return _train_in(config, splits, Path(folder), labels)
    folder = Path(run_dir)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise NoisyLabelsError(f"run_dir {folder} already exists and is not an empty folder; pass another run_dir, "
                               "remove it, or leave run_dir=None for a temporary folder")
    return _train_in(config, splits, folder, labels)


def _train_in(config: Config, splits: Splits, folder: Path, labels: np.ndarray):
    trainer = Trainer(config.replace(run={"out": str(folder)}), splits)
    metrics = trainer.fit()
    # As `noisylabels detect` reads a run: the method's declared quality; its own flags where it
    # has them, else per class as many lowest-quality samples as a GMM estimates are wrong.
    quality = label_quality_scores(labels, run=folder)
    flags = own_flags(load_run(folder).stats, run_quality_spec(folder))
    if flags is None:
        flags = find_label_issues(labels, run=folder)
    return trainer, quality, np.asarray(flags, dtype=bool), metrics


def _for_prediction(trainer: Trainer):
    """The networks (eval mode, CPU) and the method, without what only training needs, so the
    fitted estimator pickles (a method's augmentation is a local function; setup rebuilds it)."""
    networks = [model.eval().cpu() for model in trainer.models]
    method = trainer.method
    for name, value in list(vars(method).items()):
        if isinstance(value, FUNCTIONS):
            delattr(method, name)
        else:
            setattr(method, name, _cpu(value))
    return networks, method


def _cpu(value, depth: int = 2):
    """Tensors and modules on the CPU, also one level inside containers and helper objects (a
    method's EMA teacher)."""
    if isinstance(value, (torch.Tensor, torch.nn.Module)):
        return value.cpu()
    if depth == 0:
        return value
    if isinstance(value, list):
        return [_cpu(v, depth - 1) for v in value]
    if isinstance(value, dict):
        return {k: _cpu(v, depth - 1) for k, v in value.items()}
    if hasattr(value, "__dict__") and not isinstance(value, type):
        for name, inner in list(vars(value).items()):
            if isinstance(inner, (torch.Tensor, torch.nn.Module)):
                setattr(value, name, inner.cpu())
    return value


__all__ = ["NoisyLabelClassifier"]
