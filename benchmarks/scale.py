"""Large data without large memory: rsl on 100k, 300k and 1M synthetic samples, with the features
streamed from .npy files (data.streaming) and the loss/margin histories memmapped on disk
(run.stats_memmap).

The data set: Gaussian blobs, 10 classes, 64 float32 features, 20% symmetric label noise, written
once as x.npy / y.npy (+ a 10k test split) under runs/scale-data/. Each size trains in a fresh
subprocess (so peak RAM is that run's alone): rsl with an mlp, 3 epochs (2 recorded stage-one
epochs, then the selection and one stage-two epoch), batches from 2 reader processes, 1 torch
thread.

Reported per size: median training time per epoch (and per million samples), the child's peak
RSS (ru_maxrss: includes pages of the memory-mapped files it touched, which the kernel can drop)
and the peak of its anonymous memory (what it really holds), the reader processes' peak RSS, the
statistics' size on disk, and what float32 histories in RAM would take (N x epochs x 2 x 4 bytes).

    python benchmarks/scale.py                  # 100k, 300k, 1M; about 3 minutes on 2 cores
    python benchmarks/scale.py --sizes 20000    # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from common import markdown_table, publish

CLASSES, FEATURES, TEST = 10, 64, 10_000
CHUNK = 100_000  # rows generated per step: the data never sits in RAM whole
TARGET_SAMPLES, TARGET_EPOCHS = 1_000_000, 200
MB = 1 << 20


# --------------------------------------------------------------------------- data


def write_blobs(folder: Path, n: int, seed: int = 0) -> Path:
    """x.npy (n, 64) float32 blobs and y.npy labels, plus a 10k test split; skipped when present."""
    if (folder / "done").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    centers = np.random.default_rng(1000).normal(0, 1.0, (CLASSES, FEATURES))  # the same for every size
    rng = np.random.default_rng(seed)
    for prefix, count in (("", n), ("_test", TEST)):
        x = np.lib.format.open_memmap(folder / f"x{prefix}.npy", mode="w+", dtype=np.float32, shape=(count, FEATURES))
        y = rng.integers(0, CLASSES, count)
        for start in range(0, count, CHUNK):
            labels = y[start:start + CHUNK]
            x[start:start + len(labels)] = centers[labels] + rng.normal(0, 1.5, (len(labels), FEATURES))
        x.flush()
        del x
        np.save(folder / f"y{prefix}.npy", y)
    (folder / "done").touch()
    return folder


# --------------------------------------------------------------------------- one size, in a child


class AnonPeak:
    """The peak of this process's anonymous memory (RssAnon), sampled every 20 ms: unlike
    ru_maxrss it leaves out file pages that memory-mapped reads bring in."""

    def __init__(self):
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("RssAnon:"):
                        self.peak = max(self.peak, int(line.split()[1]) * 1024)
            self._stop.wait(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def child(args) -> None:
    """Train one size and print one JSON line of measurements."""
    anon = AnonPeak()
    import torch

    from noisylabels import Config, Trainer

    config = Config.from_dict({
        "data": {"name": "arrays", "path": args.data, "streaming": True, "workers": args.workers, "augment": "none"},
        "noise": {"type": "symmetric", "rate": 0.2},
        "model": {"name": "mlp", "options": {"hidden_sizes": [128]}},
        "method": {"name": "rsl", "options": {"stage1_epochs": args.epochs - 1}},
        "optim": {"epochs": args.epochs, "batch_size": args.batch_size, "lr": 0.05},
        "run": {"out": args.out, "overwrite": True, "progress": False, "plots": False, "device": "cpu",
                "stats_memmap": True},
    })
    start = time.perf_counter()
    trainer = Trainer(config)  # includes the standardisation pass over x.npy
    setup = time.perf_counter() - start
    metrics = trainer.fit()
    n, epochs = len(trainer.train_x), args.epochs
    stats_disk = sum(p.stat().st_size for p in (Path(args.out) / "stats_memmap").iterdir())
    in_memory = [trainer.stats.prediction, *trainer.stats.values.values()]
    print(json.dumps({
        "n": n, "epochs": epochs, "threads": torch.get_num_threads(), "setup_s": setup,
        "epoch_s": statistics.median(row["train_time"] for row in metrics["epochs"]),
        "epoch_total_s": statistics.median(row["time"] for row in metrics["epochs"]),
        "fit_s": time.perf_counter() - start - setup,
        "last_test_acc": metrics["last_test_acc"], "selection_precision": metrics["report"]["selection"].get(
            "selection_precision"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_anon_mb": anon.stop() / MB,
        "workers_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "stats_disk_mb": stats_disk / MB,
        "stats_ram_memmap_mb": sum(t.numel() * t.element_size() for t in in_memory) / MB,
        "stats_ram_float32_mb": n * epochs * 2 * 4 / MB,
    }), flush=True)


# --------------------------------------------------------------------------- all sizes


def run_size(n: int, args, data_root: Path, out_root: Path) -> dict:
    folder = write_blobs(data_root / f"n{n}", n)
    command = [sys.executable, __file__, "--child", "--data", str(folder), "--out", str(out_root / f"n{n}"),
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size), "--workers", str(args.workers)]
    # One OpenMP thread: the reader processes need the other core, and OpenMP threads spinning
    # against them made epochs ~10x slower on a busy 2-core machine.
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise SystemExit(f"size {n} failed:\n{done.stderr}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["data_disk_mb"] = sum(p.stat().st_size for p in folder.glob("x*.npy")) / MB
    print({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}, flush=True)
    return row


def report(rows: list[dict], args, free_disk: int) -> str:
    first = rows[0]
    target = TARGET_SAMPLES * TARGET_EPOCHS * 2 * 2  # two float16 histories
    table = [[f"{r['n']:,}", f"{r['epoch_s']:.1f}", f"{r['epoch_s'] / r['n'] * 1e6:.1f}",
              f"{(r['epoch_s'] / first['epoch_s']) / (r['n'] / first['n']):.2f}", f"{r['peak_rss_mb']:.0f}",
              f"{r['peak_anon_mb']:.0f}", f"{r['workers_peak_rss_mb']:.0f}", f"{r['stats_disk_mb']:.1f}",
              f"{r['stats_ram_memmap_mb']:.1f}", f"{r['stats_ram_float32_mb']:.1f}", f"{r['last_test_acc']:.3f}"]
             for r in rows]
    columns = ["samples", "s / epoch", "s / epoch / 1M", "time growth vs linear", "peak RSS MB", "peak anon MB",
               "reader peak RSS MB", "stats on disk MB", "stats in RAM (memmap) MB", "float32 stats in RAM MB",
               "test acc"]
    lines = [
        f"rsl + mlp [128], {args.epochs} epochs, batch {args.batch_size}, data.streaming with {args.workers} reader "
        f"processes, run.stats_memmap; Gaussian blobs, {CLASSES} classes, {FEATURES} float32 features, 20% symmetric "
        f"noise; {platform.machine()}, {os.cpu_count()} cores, {rows[0]['threads']} torch thread(s). Command: "
        f"`python benchmarks/scale.py --sizes {' '.join(str(r['n']) for r in rows)} --epochs {args.epochs} "
        f"--threads {args.threads}`",
        "",
        markdown_table(columns, table),
        "",
        "- time growth vs linear: (epoch time / smallest size's) / (samples / smallest size's); 1.00 is linear.",
        "- peak RSS counts the pages of memory-mapped files the process touched (droppable page cache); peak anon "
        "is its own memory. The reader processes map x.npy and their RSS grows with the pages they touched.",
        "- stats in RAM (memmap): predictions and method values, (N,) tensors; the (epochs, N) histories are on "
        "disk. float32 stats in RAM: N x epochs x 2 x 4 bytes, what the in-memory store takes.",
        f"- target {TARGET_SAMPLES:,} samples x {TARGET_EPOCHS} epochs: {target / 1e9:.2f} GB of float16 histories on "
        f"disk ({target * 2 / 1e9:.2f} GB as float32 in RAM without memmap); {free_disk / 1e9:.0f} GB free here, "
        f"so it {'fits' if free_disk > target else 'does NOT fit'}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)

    data_root, out_root = Path("runs/scale-data"), Path("runs/scale")
    rows = [run_size(n, args, data_root, out_root) for n in sorted(args.sizes)]
    free_disk = shutil.disk_usage(data_root).free
    text = report(rows, args, free_disk)
    publish(Path(__file__).parent / "results" / "scale", text, {"rows": rows, "free_disk_bytes": free_disk})


if __name__ == "__main__":
    main()
