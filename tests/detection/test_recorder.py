import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from noisylabels import NoisyLabelsError, Recorder
from noisylabels.detection.scores import classwise_loss_score, forgetting_score, small_loss_score

FAST = settings(max_examples=30, deadline=None, database=None)


def train_like(recorder, epochs, n, c, seed=0, skip=()):
    """Random batches over a shuffled order each epoch; samples in ``skip`` are never recorded."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % c
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen)
        order = order[~torch.isin(order, torch.tensor(list(skip), dtype=torch.long))]
        for batch in order.split(7):
            recorder.record(batch, torch.randn(len(batch), c, generator=gen) * 3, labels[batch])
        recorder.end_epoch()
    return labels


def test_records_loss_margin_probability_and_correctness():
    recorder = Recorder(4, 3, dtype=torch.float32)
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.2, 3.0]], requires_grad=True)
    recorder.record(torch.tensor([3, 1]), logits * 1, torch.tensor([0, 1]))
    loss = F.cross_entropy(logits.detach(), torch.tensor([0, 1]), reduction="none")
    assert np.allclose(recorder.history("loss")[0, [3, 1]], loss.numpy())
    assert np.allclose(recorder.history("margin")[0, [3, 1]], [2.0, -2.8])
    assert np.allclose(recorder.history("p_given")[0, [3, 1]], torch.exp(-loss).numpy())
    assert recorder.history("correct")[0, [3, 1]].tolist() == [1.0, 0.0]
    assert np.isnan(recorder.history("loss")[0, [0, 2]]).all() and recorder.labels.tolist() == [-1, 1, -1, 0]


def test_float16_storage_in_memory_and_on_disk(tmp_path):
    memory = Recorder(50, 4, max_epochs=3)
    disk = Recorder(50, 4, max_epochs=3, memmap_dir=tmp_path / "hist")
    for recorder in (memory, disk):
        train_like(recorder, 3, 50, 4)
        assert all(recorder.history(q).dtype == np.float16 for q in ("loss", "margin", "p_given", "correct"))
    assert isinstance(disk._histories["loss"], np.memmap)
    files = sorted(p.name for p in (tmp_path / "hist").iterdir())
    assert files == ["correct.npy", "loss.npy", "margin.npy", "p_given.npy"]
    disk.flush()
    assert np.array_equal(np.load(tmp_path / "hist" / "loss.npy"), memory.history("loss"), equal_nan=True)
    for method in ("classwise_loss", "aum", "small_loss", "confidence", "forgetting"):
        assert np.array_equal(disk.label_quality_scores(method), memory.label_quality_scores(method), equal_nan=True)
    exact = Recorder(50, 4, dtype=torch.float32)
    train_like(exact, 3, 50, 4)
    assert np.allclose(memory.epoch_mean_loss(), exact.epoch_mean_loss(), rtol=2e-3, atol=2e-3)


def test_in_memory_history_doubles_and_keeps_old_epochs():
    recorder = Recorder(10, 2)
    assert recorder.capacity == 8
    train_like(recorder, 20, 10, 2)
    first = recorder.history("loss")[0].copy()
    assert recorder.capacity == 32 and recorder.num_epochs == 20
    assert recorder.history("loss").shape == (20, 10) and np.array_equal(recorder.history("loss")[0], first)


def test_capacity_and_configuration_errors(tmp_path):
    with pytest.raises(NoisyLabelsError, match="memmap_dir needs max_epochs"):
        Recorder(10, 2, memmap_dir=tmp_path)
    with pytest.raises(NoisyLabelsError, match="dtype must be torch.float16"):
        Recorder(10, 2, dtype=torch.bfloat16)
    with pytest.raises(NoisyLabelsError, match="num_classes must be an integer >= 2"):
        Recorder(10, 1)
    recorder = Recorder(10, 2, max_epochs=1)
    train_like(recorder, 1, 10, 2)
    with pytest.raises(NoisyLabelsError, match="max_epochs=1 .* create it with a larger max_epochs"):
        recorder.record([0], torch.zeros(1, 2), [0])
    with pytest.raises(NoisyLabelsError, match="nothing recorded yet"):
        Recorder(10, 2).aum()
    with pytest.raises(NoisyLabelsError, match="unknown method 'cartography'; choose one of: classwise_loss, aum"):
        recorder.label_quality_scores("cartography")


def test_batch_validation_errors():
    recorder = Recorder(10, 3)
    bad_logits = torch.zeros(2, 3)
    bad_logits[1, 0] = float("nan")
    for args, pattern in [(([0, 10], torch.zeros(2, 3), [0, 1]), r"indices must be in \[0, 10\)"),
                          (([0, 1], torch.zeros(2, 4), [0, 1]), r"\(B, 3\)"),
                          (([0, 1], torch.zeros(2, 3), [0, 3]), r"labels must be in \[0, 3\)"),
                          (([0, 1], bad_logits, [0, 1]), "logits must be finite")]:
        with pytest.raises(NoisyLabelsError, match=pattern):
            recorder.record(*args)
    assert recorder.num_epochs == 0  # nothing half-written


def test_last_write_wins_within_a_batch_and_across_batches():
    recorder = Recorder(3, 2, dtype=torch.float32)
    recorder.record([0, 0, 1], torch.tensor([[5.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), [0, 1, 0])
    assert recorder.history("margin")[0, 0] == 1.0 and recorder.labels[0] == 1
    recorder.record([1], torch.tensor([[0.0, 2.0]]), [0])
    assert recorder.history("margin")[0, 1] == -2.0


def test_unrecorded_samples_are_nan_last_and_never_flagged():
    recorder = Recorder(30, 3)
    train_like(recorder, 4, 30, 3, skip={4, 17})
    for method in ("classwise_loss", "aum", "small_loss", "confidence", "forgetting"):
        quality = recorder.label_quality_scores(method)
        assert np.isnan(quality[[4, 17]]).all() and not np.isnan(np.delete(quality, [4, 17])).any()
        assert set(recorder.rank_label_issues(method)[-2:].tolist()) == {4, 17}
        assert not recorder.find_label_issues(method, noise_rates=1.0)[[4, 17]].any()


def test_methods_equal_the_score_functions_on_the_histories():
    recorder = Recorder(40, 4)
    labels = train_like(recorder, 5, 40, 4)
    assert np.allclose(recorder.label_quality_scores("classwise_loss"), classwise_loss_score(recorder.history("loss"), labels, 4))
    assert np.array_equal(recorder.label_quality_scores("small_loss"), small_loss_score(recorder.history("loss")))
    assert np.array_equal(recorder.label_quality_scores("forgetting"), forgetting_score(recorder.history("correct")))
    p = recorder.history("p_given").astype(float)
    assert np.allclose(recorder.confidence(), p.mean(0)) and np.allclose(recorder.variability(), p.std(0))
    flagged = recorder.find_label_issues("aum", noise_rates=0.25)  # round(2.5) = 3 of each class of 10
    assert flagged.sum() == 4 * 3 and np.array_equal(recorder.aum(), recorder.label_quality_scores("aum"))


def test_state_dict_round_trip_through_torch_save(tmp_path):
    recorder = Recorder(20, 3)
    train_like(recorder, 3, 20, 3)
    recorder.record([5], torch.zeros(1, 3), [2])  # a started epoch is kept too
    torch.save(recorder.state_dict(), tmp_path / "rec.pt")
    restored = Recorder(20, 3, max_epochs=6, memmap_dir=tmp_path / "m")
    restored.load_state_dict(torch.load(tmp_path / "rec.pt", weights_only=True))
    assert restored.num_epochs == 4 and restored.epoch == 3
    assert np.array_equal(restored.history("loss"), recorder.history("loss"), equal_nan=True)
    assert np.array_equal(restored.labels, recorder.labels)
    with pytest.raises(NoisyLabelsError, match="state is for 20 samples and 3 classes"):
        Recorder(21, 3).load_state_dict(recorder.state_dict())


@FAST
@given(st.integers(1, 12), st.integers(2, 4), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_epoch_means_follow_a_last_write_wins_reference(n, c, epochs, seed):
    rng = np.random.default_rng(seed)
    recorder = Recorder(n, c, dtype=torch.float64)
    seen = [dict() for _ in range(epochs)]  # epoch -> {sample: loss of its last record}
    for epoch in range(epochs):
        for _ in range(rng.integers(0, 4)):
            idx = rng.integers(0, n, rng.integers(1, 6))
            logits = torch.tensor(rng.normal(0, 2, (len(idx), c)))
            labels = rng.integers(0, c, len(idx))
            recorder.record(torch.tensor(idx), logits, torch.tensor(labels))
            losses = F.cross_entropy(logits, torch.tensor(labels), reduction="none").tolist()
            for i, loss in zip(idx.tolist(), losses):
                seen[epoch][i] = loss
        recorder.end_epoch()
    if recorder.num_epochs == 0:
        return
    got = recorder.epoch_mean_loss()
    for i in range(n):
        values = [seen[e][i] for e in range(recorder.num_epochs) if i in seen[e]]
        assert math.isclose(got[i], sum(values) / len(values), rel_tol=1e-9) if values else math.isnan(got[i])


MERGE_SCRIPT = """
import sys
import numpy as np, torch
from torch import distributed as dist
from noisylabels.detection import Recorder

dist.init_process_group("gloo")
rank = dist.get_rank()
generator = torch.Generator().manual_seed(0)
logits, labels = torch.randn(2, 30, 4, generator=generator), torch.randint(0, 4, (30,), generator=generator)
recorder = Recorder(30, 4)
for epoch in range(2):
    shard = torch.arange(rank, 30, 2) if epoch == 0 else torch.arange(rank * 15, rank * 15 + 15)
    if not (epoch == 1 and rank == 1):  # rank 1 records nothing in the second epoch
        recorder.record(shard, logits[epoch][shard], labels[shard])
    recorder.merge_ranks()
    recorder.end_epoch()
np.save(sys.argv[1] + f"/rank{rank}.npy", recorder.history("loss").astype(np.float32))
np.save(sys.argv[1] + f"/labels{rank}.npy", recorder.labels)
dist.destroy_process_group()
"""


def test_merge_ranks_gathers_every_rank_shard(tmp_path):
    """Two gloo processes, each recording its own shard: after the merge both hold what one
    process recording everything holds; a sample nobody recorded stays NaN."""
    import os
    import subprocess
    import sys

    script = tmp_path / "merge.py"
    script.write_text(MERGE_SCRIPT)
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "--standalone", str(script), str(tmp_path)], capture_output=True, text=True,
                            timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    generator = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(2, 30, 4, generator=generator), torch.randint(0, 4, (30,), generator=generator)
    single = Recorder(30, 4)
    single.record(torch.arange(30), logits[0], labels)
    single.end_epoch()
    single.record(torch.arange(15), logits[1][:15], labels[:15])
    single.end_epoch()
    for rank in (0, 1):
        merged = np.load(tmp_path / f"rank{rank}.npy")
        np.testing.assert_array_equal(merged, single.history("loss").astype(np.float32))
        assert np.isnan(merged[1, 15:]).all()
        np.testing.assert_array_equal(np.load(tmp_path / f"labels{rank}.npy"), labels.numpy())
