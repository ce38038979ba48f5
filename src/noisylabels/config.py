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
    val_fraction: float = 0.0  # stratified hold-out from the training split
    val_noisy: bool = False  # apply the label noise to the validation split too
    test_fraction: float = 0.2  # held out from training when the source has no test split
    augment: str = "auto"  # auto | none | flip | crop | crop_flip


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


SECTIONS = {"data": DataConfig, "noise": NoiseConfig, "model": ModelConfig, "optim": OptimConfig,
            "method": MethodConfig, "run": RunConfig}
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("constant", "cosine", "multistep", "onecycle")
RECORD_MODES = ("train", "eval")


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
                f"unknown config section {', '.join(sorted(unknown))}; sections are {', '.join(SECTIONS)}"
            )
        sections = {}
        for name, section_cls in SECTIONS.items():
            values = raw.get(name) or {}
            if not isinstance(values, dict):
                raise NoisyLabelsError(f"config section '{name}' must be a mapping, got {values!r}")
            known = {f.name for f in dataclasses.fields(section_cls)}
            bad = set(values) - known
            if bad:
                raise NoisyLabelsError(
                    f"unknown key {name}.{sorted(bad)[0]}; keys in '{name}': {', '.join(sorted(known))}"
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
            (isinstance(o.epochs, int) and o.epochs >= 1, f"optim.epochs must be a whole number >= 1, got {o.epochs!r}"),
            (isinstance(o.batch_size, int) and o.batch_size >= 1, f"optim.batch_size must be >= 1, got {o.batch_size!r}"),
            (_number(o.lr) and o.lr > 0, f"optim.lr must be a positive number, got {o.lr!r}"),
            (_number(o.weight_decay) and o.weight_decay >= 0, f"optim.weight_decay must be >= 0, got {o.weight_decay!r}"),
            (r.record in RECORD_MODES, f"run.record must be one of {', '.join(RECORD_MODES)}, got '{r.record}'"),
            (isinstance(r.seed, int), f"run.seed must be a whole number, got {r.seed!r}"),
            (_number(d.val_fraction) and 0 <= d.val_fraction < 1, f"data.val_fraction must be in [0, 1), got {d.val_fraction!r}"),
            (_number(d.test_fraction) and 0 < d.test_fraction < 1, f"data.test_fraction must be in (0, 1), got {d.test_fraction!r}"),
            (d.subset is None or (isinstance(d.subset, int) and d.subset > 0), f"data.subset must be a positive whole number, got {d.subset!r}"),
            (_number(self.noise.rate) and 0 <= self.noise.rate <= 1, f"noise.rate must be in [0, 1], got {self.noise.rate!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise NoisyLabelsError(message)
        if o.schedule == "multistep" and not o.milestones:
            raise NoisyLabelsError("optim.schedule multistep needs optim.milestones, e.g. [60, 120, 160]")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_config(path: str | Path) -> Config:
    """Read a YAML config file (missing sections/keys take their defaults)."""
    path = Path(path)
    if not path.is_file():
        raise NoisyLabelsError(f"config file {path} not found; check the path")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise NoisyLabelsError(f"config file {path} is not valid YAML ({str(e).splitlines()[0]}); fix its syntax")
    return Config.from_dict(raw)


def parse_assignment(text: str) -> tuple[str, Any]:
    """'key=value' -> (key, value parsed as YAML, so 0.7 is a float and [1, 2] a list)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise NoisyLabelsError(f"expected key=value, got '{text}'")
    return key.strip(), yaml.safe_load(value) if value.strip() else None


def apply_overrides(raw: dict, assignments: list[str]) -> dict:
    """Apply 'section.key=value' assignments (``--set``) to a nested config dict in place."""
    for text in assignments:
        key, value = parse_assignment(text)
        section, dot, name = key.partition(".")
        if not dot:
            raise NoisyLabelsError(f"--set needs section.key=value (e.g. optim.lr=0.1), got '{text}'")
        target = raw.setdefault(section, {})
        if "." in name:  # options sub-dictionaries: method.options.q=0.7
            sub, name = name.split(".", 1)
            target = target.setdefault(sub, {})
        target[name] = value
    return raw


def save_config(config: Config, path: str | Path) -> None:
    from .io import atomic_write_text

    atomic_write_text(path, yaml.safe_dump(config.to_dict(), sort_keys=False))
