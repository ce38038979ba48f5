"""The long grid's key cells on a GPU, with their epoch times next to the committed CPU ones.

Trains cells of benchmarks/grids/fashion_mnist_long.yaml (8,000 Fashion-MNIST images x 40 epochs,
cnn, no augmentation) through the library's grid machinery (``noisylabels.bench``: the same cell
names and configs as ``noisylabels bench``), with only the run's device, bfloat16 autocast
(``--amp``) and channels-last changed, and writes a table of the median training time per epoch on
this device beside the CPU time of the same cell (benchmarks/results/bench_fashion_mnist_long/
results.csv once committed), the speed-up, and the selected / last test accuracy, to
benchmarks/results/gpu/ (results.md + results.json). Default cells: ce, rsl_mixmatch and dividemix
at symmetric 50% and 80%, plus ce on clean labels (7 cells).

Device session (the machine cannot reach the network; its image's python3 has a CUDA torch and
every other dependency, so nothing is installed: the script imports src/ when noisylabels is not
installed). 1. Here, once: copy the IDX files into the git-ignored runs/data/fashion-mnist (29 MiB):

    .venv/bin/python benchmarks/gpu.py --pack          # DIR defaults to runs/data/fashion-mnist

2. The device `run`, with carry ["runs/data/fashion-mnist"] and timeout_s 600:

    export PYTHONUNBUFFERED=1; nvidia-smi -L; timeout 560 python3 benchmarks/gpu.py --device cuda --amp
    --copy-to "$OUT" 2>&1 | tee "$OUT/log.txt"

then copy results.md / results.json from the returned files into benchmarks/results/gpu/ and commit.
For a venv there instead: `python3 -m venv --system-site-packages .venv && .venv/bin/pip install
--no-deps --no-build-isolation -e .` (with network: `pip install torch` for a CUDA build, then
`pip install -e .`; not `-c constraints.txt`, which pins the CPU torch==2.13.0).

Sizing (an estimate: no GPU was at hand). The cnn does ~15 MFLOP per image and step, so on an H200
every step is bound by kernel launches and Python overhead, not arithmetic. Counted on CPU with a
TorchDispatchMode (8,000 images, batch 128: 63 steps), one epoch issues ~11,400 aten ops for ce,
~26,300 for rsl_mixmatch and 30,000-40,000 for dividemix (two networks, its division pass
included). At ~15 us an op, plus ~15% for autocast's casts, that is ~0.2 / 0.45 / 0.7 s per epoch,
so 40-epoch cells of ~8 / 18 / 28 s, plus ~4 s each for loading and evaluation: ~2.5 minutes for the
7 cells, ~5 at twice the per-op cost, within 8 minutes with the start-up. ``--budget-s`` (default
480) guards it: cells run cheapest first, and one whose estimate (this device's per-epoch wall
time for the method, else ce's times the CPU epoch ratio) would end past the budget is skipped
and listed as such. Results are written after every cell, so a run cut short still leaves a table.

CPU check (what tests/test_benchmarks_gpu.py runs): ``--device cpu --subset 200 --epochs 1
--methods ce --noise symmetric:0.5``.
"""
from __future__ import annotations

import argparse
import csv
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

START = time.perf_counter()  # the budget counts the imports and CUDA start-up too
ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "benchmarks" / "grids" / "fashion_mnist_long.yaml"
CPU_RESULTS = ROOT / "benchmarks" / "results" / "bench_fashion_mnist_long" / "results.csv"
RESULTS = ROOT / "benchmarks" / "results" / "gpu"
PACK_DIR = ROOT / "runs" / "data" / "fashion-mnist"  # runs/ is git-ignored: name it in `carry`
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
KEY_METHODS = ["ce", "rsl_mixmatch", "dividemix"]
KEY_NOISE = ["symmetric:0.5", "symmetric:0.8"]
# Epoch time over ce's, from the short grid on CPU (docs/bench.md), for ordering and the budget
# until committed CPU results of the long grid give measured ratios.
FALLBACK_RATIO = {"ce": 1.0, "gce+sr": 1.0, "small_loss": 1.1, "coteaching": 2.2, "rsl": 1.1, "aum": 1.1,
                  "rsl_mixmatch": 2.2, "mentormix": 1.5, "dividemix": 8.0}

try:
    import torch
except ImportError:
    sys.exit("benchmarks/gpu.py needs torch: pip install torch (a CUDA build for --device cuda), then "
             "pip install -e . in the repository root for the other dependencies")
try:
    import noisylabels  # noqa: F401
except ImportError:  # not installed (e.g. the device image's python3): use the checkout's src/
    sys.path.insert(0, str(ROOT / "src"))
import yaml
from common import markdown_table, pct, publish

from noisylabels.bench import cell_row, check_grid, expand_grid, load_grid, train_cell


# --------------------------------------------------------------------------- data
def pack(dest: Path, data_path) -> None:
    """Copy the four Fashion-MNIST IDX files (as found: plain or .gz) into ``dest``."""
    from noisylabels.data.loaders.lookup import find_data_dir

    names = [(stem, stem + ".gz") for stem in IDX_STEMS]
    source = find_data_dir("fashion_mnist", data_path, names)
    dest.mkdir(parents=True, exist_ok=True)
    size = 0
    for entry in names:
        file = next(source / n for n in entry if (source / n).is_file())
        if not (dest / file.name).exists() or not (dest / file.name).samefile(file):
            shutil.copy2(file, dest / file.name)
        size += file.stat().st_size
    print(f"packed {source} -> {dest} ({size / 2**20:.1f} MiB); name it in the device run's carry list")


def default_data_path():
    """The packed copy when there is one (the device run), else the library's own lookup."""
    return str(PACK_DIR) if any(PACK_DIR.glob("train-images-idx3-ubyte*")) else None


# --------------------------------------------------------------------------- the cells
def parse_noise(items: list[str]) -> list[dict]:
    """['symmetric:0.5', 'pair:0.4'] -> grid noise entries, one per type, in the given order."""
    entries: dict[str, list[float]] = {}
    for item in items:
        kind, sep, rate = item.partition(":")
        try:
            entries.setdefault(kind, []).append(float(rate))
        except ValueError:
            raise SystemExit(f"--noise {item!r}: give TYPE:RATE, e.g. symmetric:0.5") from None
        if not sep:
            raise SystemExit(f"--noise {item!r}: give TYPE:RATE, e.g. symmetric:0.5")
    return [{"type": kind, "rates": rates} for kind, rates in entries.items()]


def select_grid(args) -> dict:
    """The long grid restricted to the chosen cells, with this run's budget and device settings."""
    grid = load_grid(args.grid)
    by_label = {m if isinstance(m, str) else m.get("label", m["name"]): m for m in grid["methods"]}
    unknown = [m for m in args.methods if m not in by_label]
    if unknown:
        raise SystemExit(f"--methods {unknown[0]}: not in {args.grid.name}; choose from {', '.join(by_label)}")
    base = grid.get("base") or {}
    base["data"] = {**base.get("data", {}), "subset": args.subset}
    base["optim"] = {**base.get("optim", {}), "epochs": args.epochs}
    base["run"] = {**base.get("run", {}), "device": args.device, "amp": args.amp,
                   "channels_last": args.channels_last, "plots": False}  # plots: not timed, only slow
    data_path = args.data_path if args.data_path is not None else default_data_path()
    dataset = {"name": "fashion_mnist", **({"path": str(Path(data_path).resolve())} if data_path else {})}
    return {**grid, "name": "gpu", "base": base, "datasets": [dataset], "noise": parse_noise(args.noise),
            "methods": [by_label[m] for m in args.methods], "clean_ce": args.clean}


def ratio(method: str, cpu: dict) -> float:
    """A method's epoch time over ce's: the median of the CPU results' ratios, else the fallback."""
    measured = [r["epoch_ratio"] for r in cpu["rows"].values() if r["method"] == method and r["epoch_ratio"]]
    return statistics.median(measured) if measured else FALLBACK_RATIO.get(method, 2.0)


def estimate_s(cell, walls: dict, cpu: dict, epochs: int) -> float:
    """Seconds the cell should take: the method's measured per-epoch wall time on this device,
    else ce's scaled by the CPU ratio, else 0 (nothing measured yet: run it)."""
    if cell.method in walls:
        return walls[cell.method] * epochs
    return walls["ce"] * ratio(cell.method, cpu) * epochs if "ce" in walls else 0.0


# --------------------------------------------------------------------------- CPU results
def _shown(path) -> str:
    """A path as the tables print it: relative to the repository when inside it."""
    path = Path(path).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _float(text):
    return float(text) if text not in (None, "") else None


def load_cpu(path) -> dict:
    """{rows: cell -> row, subset, epochs, jobs} of the committed CPU grid; empty for '-' or none."""
    cpu = {"path": None, "rows": {}, "subset": None, "epochs": None, "jobs": None, "missing": None}
    if str(path) == "-":
        return cpu
    if not Path(path).is_file():  # the long grid's CPU results are not committed yet
        cpu["missing"] = _shown(path)
        return cpu
    path = Path(path)
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("status") == "complete":
                cpu["rows"][row["cell"]] = {"method": row["method"], **{k: _float(row.get(k)) for k in (
                    "epoch_time", "epoch_ratio", "selected_acc", "last_acc", "epochs")}}
    grid = path.parent / "grid.yaml"  # bench writes the grid beside its results: the CPU budget
    if grid.is_file():
        base = (yaml.safe_load(grid.read_text()) or {}).get("base") or {}
        cpu["subset"], cpu["epochs"] = base.get("data", {}).get("subset"), base.get("optim", {}).get("epochs")
    md = path.parent / "results.md"  # epoch times from parallel cells (--jobs > 1) are inflated
    found = re.search(r"--jobs (\d+)", md.read_text()) if md.is_file() else None
    cpu["jobs"] = int(found.group(1)) if found else None
    cpu["path"] = _shown(path)
    return cpu


# --------------------------------------------------------------------------- training
def train_all(cells: list, out: Path, args, cpu: dict, on_update) -> dict:
    """Train the cells cheapest first within the budget; cell name -> {action, wall_s, estimate_s}.
    A complete cell already in ``out`` (an earlier call on a still-warm machine) is reused."""
    from noisylabels import rundir

    walls: dict[str, float] = {}  # method -> wall seconds per epoch on this device
    done: dict[str, dict] = {}
    order = sorted(cells, key=lambda c: ratio(c.method, cpu))
    for index, cell in enumerate(order, 1):
        head = f"[{index}/{len(order)}] {cell.name}:"
        if cell_row(cell, out)["status"] == "complete":
            metrics = rundir.read_metrics(rundir.cell_dir(out, cell.name))
            walls.setdefault(cell.method, metrics["total_time"] / max(1, len(metrics["epochs"])))
            done[cell.name] = {"action": "reused", "wall_s": None, "estimate_s": None}
            print(head, "complete in", out, "- reused", flush=True)
            continue
        estimate = estimate_s(cell, walls, cpu, args.epochs)
        elapsed = time.perf_counter() - START
        if elapsed + estimate > args.budget_s:
            done[cell.name] = {"action": "skipped (budget)", "wall_s": None, "estimate_s": estimate}
            print(head, f"skipped: {elapsed:.0f} s gone + {estimate:.0f} s estimated > {args.budget_s:.0f} s budget",
                  flush=True)
            continue
        start = time.perf_counter()
        result = train_cell(cell.config.to_dict())
        wall = time.perf_counter() - start
        if result["status"] == "complete":  # a failed cell's time says nothing about the next one
            walls.setdefault(cell.method, wall / args.epochs)
        done[cell.name] = {"action": result["status"], "wall_s": wall, "estimate_s": estimate,
                           "error": result.get("error")}
        print(head, result["status"], f"in {wall:.1f} s (estimate {estimate:.0f} s)", result.get("error") or "",
              flush=True)
        on_update(done)
    return done


# --------------------------------------------------------------------------- the table
def result_row(cell, out: Path, done: dict, cpu: dict, subset: int) -> dict:
    """One cell's figures on this device, and the CPU ones where they are comparable."""
    from noisylabels import rundir

    status = cell_row(cell, out)["status"]
    action = done.get(cell.name, {}).get("action", "pending")
    metrics = (rundir.read_metrics(rundir.cell_dir(out, cell.name)) or {}) if status == "complete" else {}
    times = [e["train_time"] for e in metrics.get("epochs", [])]
    row = {"cell": cell.name, "method": cell.method, "noise": cell.setting,
           "status": status if status == "complete" or action == "pending" else action,
           "epochs": len(times), "epoch_time": statistics.median(times) if times else None, "epoch_times": times,
           "wall_s": done.get(cell.name, {}).get("wall_s"), "selected_acc": metrics.get("selected_test_acc"),
           "last_acc": metrics.get("last_test_acc"), "cpu_epoch_time": None, "speedup": None, "cpu_last_acc": None,
           "error": done.get(cell.name, {}).get("error")}
    reference = cpu["rows"].get(cell.name)
    if reference and cpu["subset"] in (None, subset):  # other data sizes: other epoch times
        row["cpu_epoch_time"] = reference["epoch_time"]
        if row["epoch_time"] and reference["epoch_time"]:
            row["speedup"] = reference["epoch_time"] / row["epoch_time"]
        if reference["epochs"] == len(times):  # other budgets: other accuracies
            row["cpu_last_acc"] = reference["last_acc"]
    return row


def _seconds(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def describe_device(device: str) -> str:
    import platform

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))}, CUDA {torch.version.cuda}"
    return f"{platform.machine()} CPU"


def cpu_source(cpu: dict, subset: int) -> str:
    """Where the CPU times come from, and why some are not compared."""
    if cpu["path"] is None:
        return f"No CPU results ({cpu['missing']} not found)" if cpu["missing"] else "No CPU results (--cpu-results -)"
    text = f"CPU times: {cpu['path']}"
    if (cpu["jobs"] or 1) > 1:
        text += f", run with --jobs {cpu['jobs']} (parallel cells: inflated times)"
    if cpu["subset"] not in (None, subset):
        text += f"; its {cpu['subset']} images are not this run's {subset}, so no times are compared"
    return text


def report(rows: list[dict], args, cpu: dict) -> str:
    flags = (" --amp" if args.amp else "") + ("" if args.channels_last else " --no-channels-last")
    command = (f"python benchmarks/gpu.py --device {args.device}{flags} --methods {' '.join(args.methods)} "
               f"--noise {' '.join(args.noise)}{'' if args.clean else ' --no-clean'} --epochs {args.epochs} "
               f"--subset {args.subset} --budget-s {args.budget_s:g}")
    table = [[r["method"], r["noise"], _seconds(r["epoch_time"]), _seconds(r["cpu_epoch_time"]),
              "-" if r["speedup"] is None else f"{r['speedup']:.1f}x", pct(r["selected_acc"]), pct(r["last_acc"]),
              pct(r["cpu_last_acc"]), _seconds(r["wall_s"], 1), r["status"]] for r in rows]
    columns = ["method", "noise", "device s/epoch", "CPU s/epoch", "speed-up", "selected %", "last %",
               "CPU last %", "wall s", "status"]
    return "\n".join([
        f"# The long grid's key cells on {describe_device(args.device)}", "",
        (f"Fashion-MNIST, {args.subset} training images, model cnn, {args.epochs} epochs, augmentation none, "
         f"seed 0 (cells of benchmarks/grids/{args.grid.name}); torch {torch.__version__}, bfloat16 autocast "
         f"{'on' if args.amp else 'off'}, channels-last {'on' if args.channels_last else 'off'}, "
         f"{torch.get_num_threads()} CPU threads. Command: `{command}`"), "",
        markdown_table(columns, table), "",
        "- s/epoch: the median over epochs of the training time (steps and the method's end-of-epoch work, no "
        "evaluation); speed-up: CPU s/epoch over device s/epoch. " + cpu_source(cpu, args.subset) + ".",
        ("- selected: test accuracy at the epoch of the best noisy-validation accuracy; last: at the last epoch; "
         "CPU last: the CPU run's, where its epochs match. wall s: the whole cell, data loading and evaluation "
         f"included. {time.perf_counter() - START:.0f} s in all, budget {args.budget_s:g} s."),
        *[f"- {r['method']}, {r['noise']}: {r['status']}: {r['error']}" for r in rows if r.get("error")],
    ])


# --------------------------------------------------------------------------- main
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (run.amp; CUDA only)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=True,
                        help="channels-last images and models (run.channels_last; default on)")
    parser.add_argument("--methods", nargs="+", default=KEY_METHODS, help="method labels of the grid")
    parser.add_argument("--noise", nargs="+", default=KEY_NOISE, help="TYPE:RATE settings, e.g. pair:0.4")
    parser.add_argument("--clean", action=argparse.BooleanOptionalAction, default=True,
                        help="plus ce on clean labels (default on)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--subset", type=int, default=8000)
    parser.add_argument("--budget-s", type=float, default=480.0,
                        help="skip cells that would end past this many seconds since start (default 480)")
    parser.add_argument("--data-path", help=f"the Fashion-MNIST IDX folder (default: {PACK_DIR.relative_to(ROOT)} "
                                            "when packed, else $NOISYLABELS_DATA or the system copy)")
    parser.add_argument("--pack", type=Path, nargs="?", const=PACK_DIR, metavar="DIR",
                        help=f"only copy the IDX files into DIR (default {PACK_DIR.relative_to(ROOT)}) and exit")
    parser.add_argument("--cpu-results", default=str(CPU_RESULTS), help="results.csv of the CPU grid, or -")
    parser.add_argument("--grid", type=Path, default=GRID)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench" / "gpu", help="the cells' run folders")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where results.md and results.json go")
    parser.add_argument("--copy-to", type=Path, help="also write them here after every cell (the device's $OUT)")
    return parser.parse_args(argv)


def check_device(device: str) -> None:
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {device}: torch {torch.__version__} sees no CUDA device (a CPU build, or no "
                         "GPU); use a CUDA build of torch, or --device cpu")


def main(argv=None) -> int:
    from noisylabels.io import atomic_write_json, atomic_write_text

    args = parse_args(argv)
    if args.pack:
        pack(args.pack, args.data_path)
        return 0
    check_device(args.device)
    cpu = load_cpu(args.cpu_results)
    cells = expand_grid(check_grid(select_grid(args)), args.out)  # checks every cell before training

    def write(done: dict, final: bool = False) -> dict:
        rows = [result_row(c, args.out, done, cpu, args.subset) for c in cells]
        options = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        text, data = report(rows, args, cpu), {"args": options, "device": describe_device(args.device), "rows": rows}
        for folder in filter(None, (args.results, args.copy_to)):
            if final and folder == args.results:
                publish(folder, text, data)  # prints the table
            else:
                atomic_write_text(folder / "results.md", text + "\n")
                atomic_write_json(folder / "results.json", data)
        return data

    done = train_all(cells, args.out, args, cpu, write)
    rows = write(done, final=True)["rows"]
    return 0 if all(r["status"] == "complete" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
