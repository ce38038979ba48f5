"""Find mislabeled digits while a transformers.Trainer trains, with noisylabels' LabelNoiseCallback.

scikit-learn's digits (1,797 8x8 images, 10 classes) split 80/20, 20% of the training labels
flipped to another class (the planted errors), a tiny ResNet built from its config (no download)
trained 4 epochs on the noisy labels. The callback records every training sample's loss, margin
and p(given label) per epoch; after ``trainer.train()`` we compare the flagged samples with the
flips we made. About 15 s on CPU, most of it importing transformers:

    python examples/huggingface_digits.py
"""
import tempfile
import time

import numpy as np
import torch
from datasets import Dataset
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from transformers import ResNetConfig, ResNetForImageClassification, Trainer, TrainingArguments

from noisylabels import detection_metrics
from noisylabels.integrations.huggingface import LabelNoiseCallback

NOISE_RATE, EPOCHS, BATCH, LR, SEED = 0.2, 4, 64, 1e-2, 0


def plant_errors(labels: np.ndarray, rate: float, num_classes: int, seed: int) -> np.ndarray:
    """Flip a ``rate`` fraction of the labels, each to one of the other classes uniformly."""
    rng = np.random.default_rng(seed)
    noisy = labels.copy()
    flip = rng.permutation(len(labels))[:round(rate * len(labels))]
    noisy[flip] = (labels[flip] + rng.integers(1, num_classes, len(flip))) % num_classes
    return noisy


def main() -> None:
    start = time.perf_counter()
    torch.set_num_threads(1)  # a model this small runs fastest on one thread (no thread sync per op)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    x_train, x_test, true_labels, y_test = train_test_split(images, digits.target, test_size=0.2,
                                                            random_state=SEED, stratify=digits.target)
    labels = plant_errors(true_labels, NOISE_RATE, 10, SEED)
    # the one column the callback needs, in the training set only: each sample's index, 0..N-1
    train_set = Dataset.from_dict({"pixel_values": x_train, "labels": labels,
                                   "idx": np.arange(len(labels))}).with_format("torch")
    test_set = Dataset.from_dict({"pixel_values": x_test, "labels": y_test}).with_format("torch")

    torch.manual_seed(SEED)
    config = ResNetConfig(num_channels=1, embedding_size=16, hidden_sizes=[16, 32], depths=[1, 1],
                          layer_type="basic", downsample_in_first_stage=False, num_labels=10)
    model = ResNetForImageClassification(config)
    callback = LabelNoiseCallback()  # reads the "idx" column; index_column= names another
    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(output_dir=output_dir, num_train_epochs=EPOCHS, per_device_train_batch_size=BATCH,
                                 learning_rate=LR, seed=SEED, use_cpu=True, report_to=[], save_strategy="no",
                                 logging_strategy="no", disable_tqdm=True,
                                 remove_unused_columns=False)  # else the Trainer drops "idx"
        trainer = Trainer(model=model, args=args, train_dataset=train_set, callbacks=[callback])
        trainer.train()
        accuracy = (trainer.predict(test_set).predictions.argmax(1) == y_test).mean()

    flipped = int((labels != true_labels).sum())
    print(f"digits: {len(labels)} training samples, {flipped} labels flipped ({NOISE_RATE:.0%}), tiny ResNet, "
          f"{EPOCHS} epochs, held-out accuracy {accuracy:.3f}")
    print(f"{'score':<14} {'flagged':>7} {'precision':>9} {'recall':>6} {'f1':>5}")
    for method in ("classwise_loss", "aum", "confidence"):
        flagged = callback.find_label_issues(method=method)  # per class, a 2-component GMM sets how many
        m = detection_metrics(flagged, labels, true_labels)
        print(f"{method:<14} {m['flagged']:>7} {m['precision']:>9.3f} {m['recall']:>6.3f} {m['f1']:>5.3f}")

    # quality: 1 - the epoch-mean loss min-max scaled within the given class (0: its class's worst)
    quality, mean_loss = callback.label_quality_scores(), callback.recorder.epoch_mean_loss()
    print("top suspects (most suspicious first):")
    print(f"{'idx':>6} {'given':>5} {'true':>4} {'quality':>8} {'mean loss':>9}")
    for i in callback.rank_label_issues()[:12]:
        print(f"{i:>6} {labels[i]:>5} {true_labels[i]:>4} {quality[i]:>8.3f} {mean_loss[i]:>9.2f}")
    print(f"time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
