"""Run configuration: dataclasses per section, YAML in, the resolved YAML saved with every run."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from .errors import NoisyLabelsError


@dataclass
class DataConfig:
    name: str = "fashion_mnist"
    path: Optional[str] = None  # folder or file; else $NOISYLABELS_DATA, then the system location
    options: dict = field(default_factory=dict)  # loader options, e.g. label_column for csv
    subset: Optional[int] = None  # keep this many training samples (stratified), for quick runs
    test_subset: Optional[int] = None  # likewise for the test split
    # Stratified hold-out from the training pool for model selection, with the labels as the user has
    # them (noisy); 0 turns it off.
    val_fraction: float = 0.1
    test_fraction: float = 0.2  # held out from training when the source has no test split
    augment: str = "auto"  # auto | none | flip | crop | crop_flip
    # Training features stay on disk and worker processes read the batches (arrays from a folder
    # of .npy files, image_list); for data sets larger than memory.
    streaming: bool = False
    workers: Optional[int] = None  # reader processes when streaming (default 2; 0: read in the main process)


@dataclass
class NoiseConfig:
    type: str = "none"
    rate: float = 0.0
    options: dict = field(default_factory=dict)  # e.g. mapping for asymmetric, path for file


@dataclass
class ModelConfig:
    name: str = "cnn"
    options: dict = field(default_factory=dict)


@dataclass
class OptimConfig:
    name: str = "sgd"  # sgd | adam | adamw
    lr: float = 0.05
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 5e-4
    schedule: str = "cosine"  # constant | cosine | multistep | onecycle
    milestones: list = field(default_factory=list)  # epochs, for multistep
    gamma: float = 0.1  # multistep factor
    warmup_epochs: float = 0.0  # linear warm-up before the schedule (cosine, multistep)
    grad_clip: Optional[float] = None  # max gradient norm
    batch_size: int = 128
    epochs: int = 10


@dataclass
class MethodConfig:
    name: str = "ce"
    options: dict = field(default_factory=dict)
    loss: str = "ce"
    loss_options: dict = field(default_factory=dict)


@dataclass
class RunConfig:
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool = False  # bfloat16 autocast, on CUDA only
    channels_last: bool = True  # image tensors and models in channels-last memory format
    out: Optional[str] = None  # run folder; default runs/<dataset>-<noise>-<method>-s<seed>
    overwrite: bool = False
    record: str = "train"  # per-sample loss from the training forward pass, or an eval-mode pass
    eval_batch_size: int = 1024
    checkpoint: bool = True
    plots: bool = True  # PNG diagnostics at the end of a run (loss histograms, selection curves)
    progress: bool = True
    tensorboard: bool = False  # TensorBoard event files of every epoch's metrics in <out>/tensorboard
    # Loss and margin histories as float16 memmaps in <out>/stats_memmap instead of float32 on the
    # device: N x epochs x 4 bytes of disk instead of N x epochs x 8 bytes of (device) memory.
    stats_memmap: bool = False


SECTIONS = {"data": DataConfig, "noise": NoiseConfig, "model": ModelConfig, "optim": OptimConfig,
            "method": MethodConfig, "run": RunConfig}
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "multistep", "onecycle")
RECORD_MODES = ("train", "eval")
REMOVED_VAL_NOISY = ("data.val_noisy was removed: the validation split now always has the training labels as "
                     "you have them (noisy with label noise); drop data.val_noisy from the config")


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    run: RunConfig = field(default_factory=RunConfig)

    @classmethod
    def from_dict(cls, raw: dict) -> "Config":
        """Build from nested dicts; unknown sections or keys are errors that name them."""
        if not isinstance(raw, dict):
            raise NoisyLabelsError("a config must be a mapping of sections (data, noise, model, ...)")
        unknown = set(raw) - set(SECTIONS)
        if unknown:
            raise NoisyLabelsError(
                f"unknown config section {', '.join(sorted(map(str, unknown)))}; sections are {', '.join(SECTIONS)}"
            )
        sections = {}
        for name, section_cls in SECTIONS.items():
            values = raw.get(name) or {}
            if not isinstance(values, dict):
                raise NoisyLabelsError(f"config section '{name}' must be a mapping, got {values!r}")
            if name == "data" and "val_noisy" in values:
                raise NoisyLabelsError(REMOVED_VAL_NOISY)
            known = {f.name for f in dataclasses.fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise NoisyLabelsError(
                    f"unknown key {name}.{sorted(map(str, bad))[0]}; keys in '{name}': {', '.join(sorted(known))}"
                )
            sections[name] = section_cls(**values)
        config = cls(**sections)
        config.validate()
        return config

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **sections: dict) -> "Config":
        """A copy with some keys changed, e.g. ``replace(noise={"rate": 0.2})``."""
        raw = self.to_dict()
        for section, values in sections.items():
            raw.setdefault(section, {}).update(values)
        return Config.from_dict(raw)

    def validate(self) -> None:
        """Check values that need no data; each error names the key and the allowed values."""
        o, r, d = self.optim, self.run, self.data
        checks = [
            (o.name in OPTIMIZERS, f"optim.name must be one of {', '.join(OPTIMIZERS)}, got '{o.name}'"),
            (o.schedule in SCHEDULES, f"optim.schedule must be one of {', '.join(SCHEDULES)}, got '{o.schedule}'"),
            (_whole(o.epochs) and o.epochs >= 1, f"optim.epochs must be a whole number >= 1, got {o.epochs!r}"),
            (_whole(o.batch_size) and o.batch_size >= 1, f"optim.batch_size must be >= 1, got {o.batch_size!r}"),
            (_number(o.lr) and o.lr > 0, f"optim.lr must be a positive number, got {o.lr!r}"),
            (_number(o.momentum) and 0 <= o.momentum < 1, f"optim.momentum must be in [0, 1), got {o.momentum!r}"),
            (_number(o.weight_decay) and o.weight_decay >= 0, f"optim.weight_decay must be >= 0, got {o.weight_decay!r}"),
            (isinstance(o.milestones, list) and all(_number(m) for m in o.milestones),
             f"optim.milestones must be a list of epochs, e.g. [60, 120], got {o.milestones!r}"),
            (r.record in RECORD_MODES, f"run.record must be one of {', '.join(RECORD_MODES)}, got '{r.record}'"),
            (_whole(r.seed), f"run.seed must be a whole number, got {r.seed!r}"),
            (_whole(r.eval_batch_size) and r.eval_batch_size >= 1,
             f"run.eval_batch_size must be a whole number >= 1, got {r.eval_batch_size!r}"),
            (_number(d.val_fraction) and 0 <= d.val_fraction < 1, f"data.val_fraction must be in [0, 1), got {d.val_fraction!r}"),
            (_number(d.test_fraction) and 0 < d.test_fraction < 1, f"data.test_fraction must be in (0, 1), got {d.test_fraction!r}"),
            (d.subset is None or (_whole(d.subset) and d.subset > 0), f"data.subset must be a positive whole number, got {d.subset!r}"),
            (d.test_subset is None or (_whole(d.test_subset) and d.test_subset > 0),
             f"data.test_subset must be a positive whole number, got {d.test_subset!r}"),
            (_number(self.noise.rate) and 0 <= self.noise.rate <= 1, f"noise.rate must be in [0, 1], got {self.noise.rate!r}"),
        ]
        flags = [("run", k) for k in ("amp", "channels_last", "overwrite", "checkpoint", "plots", "progress",
                                        "tensorboard")] + [("optim", "nesterov")]
        checks += [(isinstance(getattr(getattr(self, sec), key), bool),
                    f"{sec}.{key} must be true or false, got {getattr(getattr(self, sec), key)!r}") for sec, key in flags]
        options = [("data", "options"), ("noise", "options"), ("model", "options"), ("method", "options"),
                   ("method", "loss_options")]
        checks += [(isinstance(getattr(getattr(self, sec), key), dict),
                    f"{sec}.{key} must be a mapping of option names to values, got {getattr(getattr(self, sec), key)!r}")
                   for sec, key in options]
        checks += self._streaming_checks()
        for ok, message in checks:
            if not ok:
                raise NoisyLabelsError(message)
        if o.schedule == "multistep" and not o.milestones:
            raise NoisyLabelsError("optim.schedule multistep needs optim.milestones, e.g. [60, 120, 160]")

    def _streaming_checks(self) -> list[tuple[bool, str]]:
        d = self.data
        workers_ok = d.workers is None or (isinstance(d.workers, int) and not isinstance(d.workers, bool)
                                           and d.workers >= 0)
        return [
            (isinstance(d.streaming, bool), f"data.streaming must be true or false, got {d.streaming!r}"),
            (isinstance(self.run.stats_memmap, bool),
             f"run.stats_memmap must be true or false, got {self.run.stats_memmap!r}"),
            (workers_ok, f"data.workers must be a whole number >= 0 (0: read in the main process), got {d.workers!r}"),
            (d.workers is None or d.streaming is True,
             "data.workers sets the reader processes of data.streaming; set data.streaming: true or drop data.workers"),
        ]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int to Python, not to us


def load_config(path: str | Path) -> Config:
    """Read a YAML config file (missing sections/keys take their defaults)."""
    path = Path(path)
    if not path.is_file():
        raise NoisyLabelsError(f"config file {path} not found; check the path")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise NoisyLabelsError(f"config file {path} is not UTF-8 text; save it as UTF-8") from None
    except yaml.YAMLError as e:
        raise NoisyLabelsError(f"config file {path} is not valid YAML ({str(e).splitlines()[0]}); fix its syntax")
    return Config.from_dict(raw)


def parse_assignment(text: str) -> tuple[str, Any]:
    """'key=value' -> (key, value parsed as YAML, so 0.7 is a float and [1, 2] a list)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise NoisyLabelsError(f"expected key=value, got '{text}'")
    try:
        return key.strip(), yaml.safe_load(value) if value.strip(" \t\r\n") else None  # YAML whitespace only
    except yaml.YAMLError as e:
        raise NoisyLabelsError(f"{key.strip()}: the value '{value}' is not valid YAML ({str(e).splitlines()[0]}); "
                               "quote strings, close brackets") from None


def apply_overrides(raw: dict, assignments: list[str]) -> dict:
    """Apply 'section.key=value' assignments (``--set``) to a nested config dict in place."""
    for text in assignments:
        key, value = parse_assignment(text)
        section, dot, name = key.partition(".")
        if not dot:
            raise NoisyLabelsError(f"--set needs section.key=value (e.g. optim.lr=0.1), got '{text}'")
        target = raw.setdefault(section, {})
        where = section
        if "." in name:  # options sub-dictionaries: method.options.q=0.7
            sub, name = name.split(".", 1)
            target = target.setdefault(sub, {}) if isinstance(target, dict) else target
            where = f"{section}.{sub}"
        if not isinstance(target, dict):
            raise NoisyLabelsError(f"--set {text}: {where} is {target!r}, not a mapping of keys; fix the config")
        target[name] = value
    return raw


def save_config(config: Config, path: str | Path) -> None:
    from .io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
