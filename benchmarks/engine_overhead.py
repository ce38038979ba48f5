"""One epoch of `ce` through the engine vs. a bare PyTorch loop: same model, batch size, data.

Both sides train one epoch (one randperm, index slicing, the same batched augmentation) and then
evaluate on the test split; they alternate, and the medians are compared. The engine side also
records per-sample statistics and writes metrics and a checkpoint, which is what it costs.

    python benchmarks/engine_overhead.py --subset 20000 --repeats 3
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from noisylabels import Config, Trainer, create_model
from noisylabels.data import make_augment


def bare_epoch(trainer: Trainer, seed: int) -> float:
    """The loop a researcher would write by hand, on the engine's own device tensors."""
    cfg = trainer.config
    torch.manual_seed(seed)
    model = create_model(cfg.model.name, trainer.num_classes, trainer.data.train.in_shape)
    model = model.to(trainer.device, memory_format=trainer.memory_format)  # as an expert would write it
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr, momentum=cfg.optim.momentum,
                          weight_decay=cfg.optim.weight_decay, nesterov=True)
    augment = make_augment(cfg.data.augment, trainer.data.train.in_shape)
    x, y, bs = trainer.train_x, trainer.train_y, cfg.optim.batch_size
    test_x, test_y = trainer.data.test.x, trainer.data.test.labels.to(trainer.device)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=gen).to(trainer.device)
    for i in range(0, len(x), bs):
        idx = order[i:i + bs]
        xb = augment(x[idx], gen) if augment else x[idx]
        loss = F.cross_entropy(model(xb), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        correct = sum((model(test_x[i:i + 1024]).argmax(1) == test_y[i:i + 1024]).sum().item()
                      for i in range(0, len(test_x), 1024))
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    assert correct > 0
    return time.perf_counter() - start


def engine_epoch(config: Config) -> tuple[float, float]:
    """(time of the epoch as the engine reports it, wall time of the whole fit incl. final writes)."""
    trainer = Trainer(config)
    start = time.perf_counter()
    metrics = trainer.fit()
    return metrics["epochs"][0]["time"], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--subset", type=int, default=20000)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        config = Config.from_dict({
            "data": {"name": args.dataset, "subset": args.subset},
            "model": {"name": args.model},
            "optim": {"epochs": 1, "batch_size": args.batch_size, "schedule": "constant"},
            "run": {"device": args.device, "progress": False, "out": tmp, "overwrite": True},
        })
        reference = Trainer(config)  # data on the device, shared by the bare loop
        bare, engine, engine_wall = [], [], []
        for repeat in range(args.repeats):
            bare.append(bare_epoch(reference, seed=repeat))
            epoch_time, wall = engine_epoch(config.replace(run={"seed": repeat}))
            engine.append(epoch_time)
            engine_wall.append(wall)
    b, e, w = (statistics.median(v) for v in (bare, engine, engine_wall))
    print(f"device {reference.device}, {args.dataset} {len(reference.train_x)} train samples, model {args.model}, "
          f"batch {args.batch_size}, {torch.get_num_threads()} threads, median of {args.repeats}")
    print(f"bare loop epoch (train + test eval):   {b:.2f} s")
    print(f"engine epoch (train + record + eval):  {e:.2f} s   ratio {e / b:.3f}")
    print(f"engine whole fit incl. output files:   {w:.2f} s   ratio {w / b:.3f}")


if __name__ == "__main__":
    main()
