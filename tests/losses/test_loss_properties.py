"""Property-based tests (hypothesis) of every registered loss.

For random logits at random scales: per-sample (B,) output, finite, non-negative, finite
gradients; bounded losses stay in their range; a permutation of the batch permutes the losses;
relabelling the classes (moving the logit columns with the labels) changes nothing; adding a
constant to every logit changes nothing (all but ``sr``, which L2-normalises the logits).
Bad batches and bad options raise ``NoisyLabelsError`` naming the loss and the argument.
"""
import inspect

import pytest
import torch
from hypothesis import given, settings, strategies as st

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import LOSSES, create_loss
from noisylabels.losses.common import RCE_SCALE

FAST = settings(max_examples=15, deadline=None, database=None)
CASES = [(name, {}) for name in LOSSES.names()] + [
    ("bitempered", {"t1": 0.7, "t2": 1.5}), ("bitempered", {"t1": 0.5, "t2": 0.8, "label_smoothing": 0.1}),
    ("gce", {"q": 0.1}), ("nfl", {"gamma": 2.0}), ("sr", {"preset": "mnist"}), ("ce+sr", {}),
]
IDS = [name + "".join(f"-{k}={v}" for k, v in options.items()) for name, options in CASES]
BOUNDS = {"nce": 1.0, "nfl": 1.0, "ngce": 1.0, "mae": 1.0, "rce": RCE_SCALE}  # loss <= bound (>= 0 for all)
# Losses decreasing in the label's own logit (gradient <= 0 there): the CE family, MAE/RCE, GCE, focal.
DECREASING = {"ce", "mae", "rce", "sce", "gce", "focal", "polysoft"}

seeds = st.integers(0, 2**32 - 1)
batches = st.integers(1, 12)
class_counts = st.integers(2, 6)
scales = st.floats(1e-3, 50.0)


def random_batch(seed, b, c, scale, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    logits = (torch.randn(b, c, generator=gen, dtype=torch.float64) * scale).to(dtype)
    return logits, torch.randint(0, c, (b,), generator=gen)


@pytest.mark.parametrize("name, options", CASES, ids=IDS)
@FAST
@given(seed=seeds, b=batches, c=class_counts, scale=scales)
def test_per_sample_finite_non_negative_with_finite_gradients(name, options, seed, b, c, scale):
    loss = create_loss(name, **options)
    logits, labels = random_batch(seed, b, c, scale)
    logits.requires_grad_()
    out = loss(logits, labels)
    assert out.shape == (b,) and out.dtype == torch.float32
    assert torch.isfinite(out).all() and (out >= -1e-6).all()
    if name in BOUNDS:
        assert (out <= BOUNDS[name] + 1e-5).all()
    out.sum().backward()
    assert torch.isfinite(logits.grad).all()
    if name in DECREASING:  # raising the label's own logit never raises the loss
        assert (logits.grad.gather(1, labels[:, None]) <= 1e-6).all()


@pytest.mark.parametrize("name, options", CASES, ids=IDS)
@FAST
@given(seed=seeds, b=batches, c=class_counts, scale=scales, shift=st.floats(-20, 20))
def test_batch_permutation_class_relabelling_and_logit_shift(name, options, seed, b, c, scale, shift):
    loss = create_loss(name, **options)
    logits, labels = random_batch(seed, b, c, scale, torch.float64)  # float64: tight tolerances
    out = loss(logits, labels)
    assert out.dtype == torch.float64
    order = torch.randperm(b, generator=torch.Generator().manual_seed(seed + 1))
    assert torch.allclose(loss(logits[order], labels[order]), out[order], rtol=1e-9, atol=1e-9)
    classes = torch.randperm(c, generator=torch.Generator().manual_seed(seed + 2))
    moved = torch.empty_like(logits)
    moved[:, classes] = logits  # class k is now called classes[k]
    assert torch.allclose(loss(moved, classes[labels]), out, rtol=1e-6, atol=1e-8)
    if not name.endswith("sr") and name != "mse":  # sr normalises the logits; mse regresses them
        assert torch.allclose(loss(logits + shift, labels), out, rtol=1e-5, atol=1e-6)


BAD_BATCHES = [
    (torch.zeros(3, 4), torch.tensor([0, 1, 4]), "labels must be class indices 0..3, got 4"),
    (torch.zeros(3, 4), torch.tensor([0, -1, 2]), "labels must be class indices 0..3, got -1"),
    (torch.zeros(3, 4), torch.tensor([0, 1]), r"labels must have one entry per sample \(3\)"),
    (torch.zeros(3, 4), torch.tensor([0.0, 1.0, 2.0]), "labels must be integer class indices"),
    (torch.zeros(3, 4), torch.tensor([[0], [1], [2]]), r"labels must be a \(N,\) tensor"),
    (torch.zeros(4), torch.tensor([0, 1, 2, 3]), r"logits must be a \(B, C\) tensor"),
]


@pytest.mark.parametrize("name", LOSSES.names())
@pytest.mark.parametrize("logits, labels, message", BAD_BATCHES)
def test_bad_batch_names_the_loss_and_the_argument(name, logits, labels, message):
    """Before: raw IndexError/RuntimeError, or a silently truncated (short or float labels) or
    broadcast ((B, 1) labels) result."""
    with pytest.raises(NoisyLabelsError, match=f"{name}: {message}"):
        create_loss(name)(logits, labels)


NUMERIC_OPTIONS = sorted({(name, option) for name in LOSSES.names()
                          for option, p in inspect.signature(LOSSES.get(name)).parameters.items()
                          if option not in ("self", "base", "base_options", "preset", "normalize")})
anything = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.text(max_size=3),
                     st.booleans(), st.none(), st.lists(st.integers(0, 3), max_size=2))


@pytest.mark.parametrize("name, option", NUMERIC_OPTIONS, ids=[f"{n}.{o}" for n, o in NUMERIC_OPTIONS])
@FAST
@given(value=anything)
def test_option_values_build_a_working_loss_or_raise_an_error_naming_the_option(name, option, value):
    try:
        loss = create_loss(name, **{option: value})
    except NoisyLabelsError as error:
        assert option in str(error) and name in str(error)
        return
    out = loss(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]))
    assert out.shape == (5,)


@pytest.mark.parametrize("name", LOSSES.names())
def test_unknown_option_is_named_for_every_loss(name):
    """Before: ce, nce and rce (no __init__ of their own) let nn.Module raise a bare TypeError."""
    with pytest.raises(NoisyLabelsError, match=f"loss '{name}' has no option bogus; accepted:"):
        create_loss(name, bogus=1)


def test_an_empty_batch_gives_an_empty_loss():
    for name in LOSSES.names():
        out = create_loss(name)(torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
        assert out.shape == (0,), name
