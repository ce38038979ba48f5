"""Find mislabeled digits while PyTorch Lightning trains a small MLP, with LabelNoiseCallback.

scikit-learn's digits (8x8 images, 10 classes, standardised), 80% for training with 20% of the
training labels flipped to another class (the planted errors), 20% held out with clean labels. The
training set is wrapped in WithIndex so each batch carries the sample indices; the callback records
every training sample per epoch and afterwards flags suspects, which we compare with the planted
flips. Two epochs take a few seconds on a CPU:

    python examples/lightning_digits.py
    python examples/lightning_digits.py --devices 2 --strategy ddp     # two CPU processes
"""
import argparse
import logging
from pathlib import Path

import lightning
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from torch.utils.data import DataLoader, TensorDataset

from noisylabels import detection_metrics
from noisylabels.integrations import WithIndex
from noisylabels.integrations.lightning import LabelNoiseCallback

NUM_CLASSES = 10


def planted_digits(noise: float = 0.2, seed: int = 0):
    """Standardised digits split 80/20; ``noise`` of the training labels flipped to another class.
    Returns x_train, noisy train labels, true train labels, x_test, y_test."""
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(digits.data, digits.target, test_size=0.2,
                                                        random_state=seed, stratify=digits.target)
    scaler = StandardScaler().fit(x_train)
    rng = np.random.default_rng(seed)
    noisy = y_train.copy()
    flip = rng.permutation(len(noisy))[:round(noise * len(noisy))]
    noisy[flip] = (y_train[flip] + rng.integers(1, NUM_CLASSES, len(flip))) % NUM_CLASSES  # never the same class
    as_float = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    return as_float(scaler.transform(x_train)), noisy, y_train, as_float(scaler.transform(x_test)), y_test


class DigitsMLP(lightning.LightningModule):
    def __init__(self, hidden: int = 128, lr: float = 1e-2):
        super().__init__()
        self.lr = lr
        self.net = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, NUM_CLASSES))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y, idx = batch  # the one change for LabelNoiseCallback (was: x, y = batch)
        return F.cross_entropy(self(x), y)  # self(x): the callback records this forward's logits

    def validation_step(self, batch, batch_idx):
        x, y = batch  # validation is not recorded: no index needed
        self.log("val_acc", (self(x).argmax(1) == y).float().mean(), sync_dist=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def loaders(x_train, labels, x_test, y_test, batch_size: int = 32):
    train = WithIndex(TensorDataset(x_train, torch.tensor(labels)))  # items (x, y) become (x, y, idx)
    return (DataLoader(train, batch_size=batch_size, shuffle=True),
            DataLoader(TensorDataset(x_test, torch.tensor(y_test)), batch_size=256))


def make_trainer(args, callbacks, **options) -> lightning.Trainer:
    settings = dict(max_epochs=args.epochs, accelerator="cpu", devices=args.devices, strategy=args.strategy,
                    enable_progress_bar=False, logger=False, enable_model_summary=False, enable_checkpointing=False,
                    deterministic=True)
    return lightning.Trainer(callbacks=callbacks, **{**settings, **options})


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--devices", type=int, default=1, help="CPU processes (2 with --strategy ddp)")
    parser.add_argument("--strategy", default="auto", help="auto, or ddp")
    parser.add_argument("--noise", type=float, default=0.2, help="fraction of training labels flipped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", help="write scores and flags to this .npz (rank 0; rank N writes NAME.rankN.npz)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no start-up banners
    lightning.seed_everything(args.seed, verbose=False)
    x_train, labels, true_labels, x_test, y_test = planted_digits(args.noise, args.seed)
    train_loader, test_loader = loaders(x_train, labels, x_test, y_test)
    callback = LabelNoiseCallback()
    trainer = make_trainer(args, [callback])
    trainer.fit(DigitsMLP(), train_loader, test_loader)

    # every rank holds all records after fit; only rank 0 reports
    scores, flagged, order = callback.label_quality_scores(), callback.find_label_issues(), callback.rank_label_issues()
    if args.save:
        path = Path(args.save)
        path = path if trainer.is_global_zero else path.with_suffix(f".rank{trainer.global_rank}.npz")
        np.savez(path, scores=scores, flagged=flagged, order=order, labels=labels, true_labels=true_labels)
    if not trainer.is_global_zero:
        return
    m = detection_metrics(flagged, labels, true_labels)
    print(f"digits: {len(labels)} training samples, {m['mislabeled']} labels flipped ({args.noise:.0%}), "
          f"{args.epochs} epochs on {trainer.world_size} process(es), "
          f"held-out accuracy {float(trainer.callback_metrics['val_acc']):.3f}")
    print(f"flagged {m['flagged']}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  f1 {m['f1']:.3f}")
    loss = callback.recorder.epoch_mean_loss()
    print("top suspects: index, given label, true label, mean training loss")
    for i in order[:8]:
        print(f"  {i:>5}  {labels[i]}  {true_labels[i]}  {loss[i]:.2f}")


if __name__ == "__main__":
    main()
