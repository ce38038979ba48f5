"""Command line: ``noisylabels train|detect|list|demo|bench|report|randomize``. Bad input exits with status 2 and one line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional

import yaml

from . import __version__
from .config import Config, apply_overrides, load_config, parse_assignment
from .errors import NoisyLabelsError
from .plugins import load_plugin

# flag -> (config section, key)
FLAGS = {
    "dataset": ("data", "name"), "data_path": ("data", "path"), "subset": ("data", "subset"),
    "test_subset": ("data", "test_subset"), "val_fraction": ("data", "val_fraction"),
    "augment": ("data", "augment"),
    "noise": ("noise", "type"), "noise_rate": ("noise", "rate"),
    "model": ("model", "name"),
    "method": ("method", "name"), "loss": ("method", "loss"),
    "optimizer": ("optim", "name"), "lr": ("optim", "lr"), "epochs": ("optim", "epochs"),
    "batch_size": ("optim", "batch_size"), "schedule": ("optim", "schedule"),
    "weight_decay": ("optim", "weight_decay"),
    "seed": ("run", "seed"), "device": ("run", "device"), "out": ("run", "out"), "record": ("run", "record"),
}
# repeatable key=value flags -> (section, options key)
OPTION_FLAGS = {"data_arg": ("data", "options"), "noise_arg": ("noise", "options"),
                "model_arg": ("model", "options"), "method_arg": ("method", "options"),
                "loss_arg": ("method", "loss_options")}
SWITCHES = {"amp": ("run", "amp", True), "overwrite": ("run", "overwrite", True),
            "no_progress": ("run", "progress", False), "no_checkpoint": ("run", "checkpoint", False),
            "tensorboard": ("run", "tensorboard", True)}


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    """The data / noise / model / method / optimiser / run flags shared by every training command."""
    parser.add_argument("--config", help="YAML config file; flags override it")
    g = parser.add_argument_group("data")
    g.add_argument("--dataset", help="registered dataset name (see `noisylabels list`)")
    g.add_argument("--data-path", help="data folder or file (else $NOISYLABELS_DATA, then the system location)")
    g.add_argument("--subset", type=int, help="train on this many samples (stratified), for quick runs")
    g.add_argument("--test-subset", type=int, help="evaluate on this many test samples")
    g.add_argument("--val-fraction", type=float, help="noisy validation hold-out for model selection "
                   "(default 0.1; 0: none)")
    g.add_argument("--augment", help="auto | none | flip | crop | crop_flip")
    g.add_argument("--data-arg", action="append", default=[], metavar="K=V", help="loader option")
    g = parser.add_argument_group("noise")
    g.add_argument("--noise", help="noise type: none, symmetric, uniform, pair, asymmetric, instance, matrix, file")
    g.add_argument("--noise-rate", type=float, help="noise rate in [0, 1]")
    g.add_argument("--noise-arg", action="append", default=[], metavar="K=V", help="noise option")
    g = parser.add_argument_group("model and method")
    g.add_argument("--model", help="registered model name")
    g.add_argument("--model-arg", action="append", default=[], metavar="K=V")
    g.add_argument("--method", help="registered method name")
    g.add_argument("--method-arg", action="append", default=[], metavar="K=V")
    g.add_argument("--loss", help="registered per-sample loss")
    g.add_argument("--loss-arg", "--loss-args", dest="loss_arg", action="append", default=[], metavar="K=V",
                   help="loss option, e.g. q=0.7; for <loss>+sr also preset=mnist, tau=0.5, ...")
    g = parser.add_argument_group("optimisation")
    g.add_argument("--optimizer", help="sgd | adam | adamw")
    g.add_argument("--lr", type=float)
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--schedule", help="constant | cosine | multistep | onecycle")
    g.add_argument("--weight-decay", type=float)
    g = parser.add_argument_group("run")
    g.add_argument("--seed", type=int)
    g.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps")
    g.add_argument("--amp", action="store_true", help="bfloat16 autocast (CUDA only)")
    g.add_argument("--record", help="per-sample loss from the training pass (train) or an eval pass (eval)")
    g.add_argument("--out", help="run folder")
    g.add_argument("--overwrite", action="store_true", help="replace an existing run folder's files")
    g.add_argument("--no-progress", action="store_true", help="no progress bar or epoch lines")
    g.add_argument("--no-checkpoint", action="store_true", help="do not write checkpoint.pt every epoch")
    g.add_argument("--tensorboard", action="store_true", help="also log every epoch's metrics as TensorBoard "
                                                              "events in <out>/tensorboard")
    g.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=V",
                   help="any config key, e.g. --set optim.milestones=[5,8]")


def config_from_args(args: argparse.Namespace, defaults: Optional[dict] = None) -> Config:
    """The config file (if any), then flags, then --set assignments, in that order of precedence.
    ``defaults`` ({section: {key: value}}): a command's own defaults, for the keys the file leaves out."""
    raw = load_config(args.config).to_dict() if args.config else {}
    written = yaml.safe_load(Path(args.config).read_text(encoding="utf-8")) or {} if args.config else {}
    for section, values in (defaults or {}).items():
        for key, value in values.items():
            if key not in (written.get(section) or {}):
                raw.setdefault(section, {})[key] = value
    for flag, (section, key) in FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            raw.setdefault(section, {})[key] = value
    for flag, (section, key) in OPTION_FLAGS.items():
        for text in getattr(args, flag):
            name, value = parse_assignment(text)
            raw.setdefault(section, {}).setdefault(key, {})[name] = value
    for flag, (section, key, value) in SWITCHES.items():
        if getattr(args, flag):
            raw.setdefault(section, {})[key] = value
    return Config.from_dict(apply_overrides(raw, args.set))


def cmd_train(args) -> int:
    from .engine import Trainer
    from .noise import format_noise_summary

    trainer = Trainer.resume(args.resume) if args.resume else Trainer(config_from_args(args))
    if trainer.data.noise and trainer.config.run.progress and trainer.is_main:
        print(format_noise_summary(trainer.data.noise))
    metrics = trainer.fit()
    if trainer.dist is not None:
        from .distributed import shutdown

        shutdown()
    if trainer.is_main:  # under torchrun, one report
        print(f"{done_line(metrics)}; results in {trainer.out}")
    return 0


def done_line(metrics: dict) -> str:
    """Selected (when there is a validation split) and last test accuracy first; the oracle labelled."""
    head = "done: "
    if metrics.get("selected_test_acc") is not None:
        head += (f"selected test acc {metrics['selected_test_acc']:.4f} (epoch {metrics['selected_epoch']}, "
                 f"{metrics['selection_rule']}), ")
    return head + (f"last test acc {metrics['last_test_acc']:.4f}, oracle best test acc "
                   f"{metrics['best_test_acc']:.4f} (epoch {metrics['best_epoch']})")


def cmd_detect(args) -> int:
    from .detect import check_detector, detect

    detector = check_detector(args.method or "rsl")
    args.method = None  # the detector picks the training method
    config = config_from_args(args)
    result = detect(config, detector, run=args.run, folds=args.folds, contact_sheet=args.contact_sheet)
    line = f"{detector}: {result['flagged']} of {result['samples']} samples flagged"
    if "precision" in result:
        line += f"; precision {result['precision']:.3f}, recall {result['recall']:.3f}, F1 {result['f1']:.3f}"
    print(f"{line}; ranked list in {result['folder']}/label_issues.csv")
    return 0


def cmd_list(args) -> int:
    from .data import DATASETS
    from .losses import LOSSES
    from .methods import METHODS
    from .models import MODELS
    from .noise import NOISE

    registries = {"datasets": DATASETS, "noise": NOISE, "models": MODELS, "methods": METHODS, "losses": LOSSES}
    if args.kind and args.kind not in registries:
        raise NoisyLabelsError(f"unknown kind '{args.kind}'; choose one of: {', '.join(registries)}")
    for kind, registry in registries.items():
        if args.kind in (None, kind):
            print(f"{kind}: {', '.join(registry.names(args.pattern))}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo

    run_demo(out=args.out, epochs=args.epochs, subset=args.subset, seed=args.seed,
             device=args.device, progress=not args.no_progress, dataset=args.dataset)
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench

    from .bench.backends import BackendOptions

    options = BackendOptions(cpus_per_cell=args.cpus_per_cell, gpus_per_cell=args.gpus_per_cell,
                             ray_address=args.ray_address, slurm_partition=args.slurm_partition,
                             slurm_time=args.slurm_time, slurm_array_parallelism=args.slurm_array_parallelism,
                             slurm_cluster=args.slurm_cluster)
    rows = run_bench(args.grid, out=args.out, jobs=args.jobs, only=tuple(args.only), backend=args.backend,
                     options=options)
    failed = [row["cell"] for row in rows if row["status"] == "failed"]
    if failed:  # the grid went on; say which cells need a look
        print(f"noisylabels: {len(failed)} cell(s) failed: {', '.join(failed)} (errors in results.csv)", file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    print(write_report(args.folder, out=args.out))
    return 0


def cmd_randomize(args) -> int:
    from .randomize import DEFAULTS, INPUTS, RATES, format_summary_lines, run_randomize, split_list

    rates = RATES if args.rates is None else split_list(args.rates)
    inputs = INPUTS if args.inputs is None else split_list(args.inputs)
    summary = run_randomize(config_from_args(args, DEFAULTS), rates=rates, inputs=inputs)
    print("\n".join(format_summary_lines(summary)))
    print(f"results in {summary['folder']}")
    return 0


def add_randomize_parser(sub, plugin: argparse.ArgumentParser) -> None:
    p = sub.add_parser("randomize", parents=[plugin],
                       help="the randomization test (Zhang et al. 2017): train on labels corrupted at rates 0..1 and "
                            "on randomised inputs; write randomize.json, randomize.png and results.md",
                       description="One run per setting under OUT/runs/: labels_<p> (each label replaced by a "
                                   "uniformly random class with probability p) and the input randomisations with "
                                   "true labels. Training accuracy is measured in eval mode over the whole training "
                                   "set. Defaults: --augment none --weight-decay 0 --val-fraction 0 (a --config file "
                                   "or the flags change them). A rerun skips the finished settings.")
    add_run_flags(p)
    p.add_argument("--rates", help="label corruption rates in [0, 1], comma-separated (default 0,0.2,0.4,0.6,0.8,1)")
    p.add_argument("--inputs", help="input randomisations with true labels, comma-separated: shuffled_pixels, "
                                    "random_pixels, gaussian (default all three; none: no input setting)")
    p.set_defaults(func=cmd_randomize)


def add_bench_parser(sub, plugin: argparse.ArgumentParser) -> None:
    p = sub.add_parser("bench", parents=[plugin], help="train a grid of datasets x noise x methods x seeds; skip finished cells, "
                                     "resume interrupted ones; write results.csv and results.md")
    p.add_argument("grid", help="grid YAML file (see benchmarks/grids/)")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="train only the cells whose name matches (repeatable), e.g. '*-ce-s0'; the rest stay as they are")
    p.add_argument("--out", help="output folder (default runs/bench/<grid name>)")
    p.add_argument("--jobs", type=int, default=1, help="cells trained in parallel worker processes (default 1)")
    p.add_argument("--backend", default="local", help="where cells train: local (default), ray or slurm")
    p.add_argument("--cpus-per-cell", type=int, default=1, help="ray and slurm: CPUs (and torch threads) per cell")
    p.add_argument("--gpus-per-cell", type=float, default=0, help="ray and slurm: GPUs per cell (default 0)")
    p.add_argument("--ray-address", help="ray: the cluster to join (e.g. auto, ray://host:10001); default a "
                                         "local cluster")
    p.add_argument("--slurm-partition", help="slurm: the partition to submit to")
    p.add_argument("--slurm-time", type=int, default=60, help="slurm: minutes per job; a timed-out job is "
                                                              "requeued and resumes its cell (default 60)")
    p.add_argument("--slurm-array-parallelism", type=int, default=64, help="slurm: cells running at once")
    p.add_argument("--slurm-cluster", default="slurm", help="slurm: 'slurm', or 'local' for submitit's local "
                                                            "executor (jobs as processes on this machine)")
    p.set_defaults(func=cmd_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noisylabels", description="Train on noisy labels; find wrong labels.")
    parser.add_argument("--version", action="version", version=f"noisylabels {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    plugin = argparse.ArgumentParser(add_help=False)  # every command can register your own names first
    plugin.add_argument("--plugin", action="append", default=[], metavar="FILE.py|MODULE",
                        help="import this file or module first, so the methods, losses, models or datasets it "
                             "registers can be used by name (repeatable)")

    p = sub.add_parser("train", parents=[plugin], help="train one run from a config and/or flags")
    add_run_flags(p)
    p.add_argument("--resume", metavar="RUN_DIR", help="continue a killed run from its last checkpoint "
                                                       "(its saved config is used; other flags are ignored)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("detect", parents=[plugin], help="find the mislabeled training samples: train with recording (or read --run) "
                                      "and write label_issues.csv",
                       description="--method picks the detector: any training method (default rsl), scored "
                                   "as the method declares, small_loss (a ce run's last loss) or confident "
                                   "(K-fold cross-validated confident learning); the other flags are train's.")
    add_run_flags(p)
    p.add_argument("--run", help="a finished run folder to read instead of training")
    p.add_argument("--folds", type=int, default=2, help="cross-validation folds of the confident detector")
    p.add_argument("--contact-sheet", action="store_true", help="also draw the flagged images (label_issues.png)")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("list", parents=[plugin], help="print the registered datasets, noise types, models, methods, losses")
    p.add_argument("kind", nargs="?", help="datasets | noise | models | methods | losses")
    p.add_argument("--pattern", default="*", help="glob on names, e.g. 'resnet*'")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("demo", help="the main job: Fashion-MNIST, 50%% symmetric noise, the best method vs CE")
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--dataset", default="fashion_mnist", help="another registered dataset, e.g. digits")
    p.add_argument("--epochs", type=int, default=None, help="epochs per run (default: the demo's budget)")
    p.add_argument("--subset", type=int, default=None, help="training samples (default: the demo's budget)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_demo)

    add_bench_parser(sub, plugin)

    add_randomize_parser(sub, plugin)

    p = sub.add_parser("report", help="an HTML page with figures (and the figures as PNGs) for a run or bench folder")
    p.add_argument("folder", help="a run folder (metrics.json) or a bench folder (results.csv and cells/)")
    p.add_argument("--out", help="the page to write (default FOLDER/report.html; figures go to FOLDER/report/)")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for source in getattr(args, "plugin", []):
            load_plugin(source)
        return args.func(args)
    except NoisyLabelsError as error:
        print(f"noisylabels: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("noisylabels: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
