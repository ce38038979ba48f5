"""Contracts every registered loss keeps: per-sample (B,) output, finite values and gradients."""
import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import LOSSES, Loss, create_loss
from noisylabels.losses import base as loss_base

# Non-default settings whose numerics differ from the defaults (tempered softmax, tiny q, ...).
VARIANTS = [
    ("bitempered", {"t1": 0.8, "t2": 1.2}),
    ("bitempered", {"t1": 0.5, "t2": 4.0, "label_smoothing": 0.1}),
    ("bitempered", {"t1": 0.5, "t2": 0.7, "label_smoothing": 0.1}),
    ("gce", {"q": 1e-4}),
    ("ngce", {"q": 1e-4}),
    ("focal", {"gamma": 0.5}),
    ("nfl", {"gamma": 2.0}),
    ("polysoft", {"t": 1.2, "lam": 1e5}),
]
CASES = [(name, {}) for name in LOSSES.names()] + VARIANTS
IDS = [name + "".join(f"-{k}={v}" for k, v in options.items()) for name, options in CASES]


def extreme_logits() -> torch.Tensor:
    torch.manual_seed(0)
    fixed = torch.tensor([[1e4, -1e4, 0.0, 5e3, -5e3], [-1e4, -1e4, -1e4, -1e4, 1e4], [1e4, 1e4, 0.0, 0.0, -1e4]])
    return torch.cat([fixed, torch.randn(9, 5) * 1e4])


@pytest.mark.parametrize("name, options", CASES, ids=IDS)
def test_shape_and_finite(name, options):
    torch.manual_seed(0)
    logits, labels = torch.randn(7, 4), torch.randint(0, 4, (7,))
    out = create_loss(name, **options)(logits, labels)
    assert out.shape == (7,) and out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name, options", CASES, ids=IDS)
def test_finite_for_huge_logits(name, options, dtype):
    logits = extreme_logits().to(dtype).requires_grad_()
    labels = torch.arange(12) % 5  # hits the huge, the tiny and the middle logits
    out = create_loss(name, **options)(logits, labels)
    assert out.shape == (12,) and out.dtype == torch.float32 and torch.isfinite(out).all()
    out.sum().backward()
    assert logits.grad.dtype == dtype and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name, options", CASES, ids=IDS)
def test_finite_for_equal_logits(name, options):
    logits = torch.full((4, 5), 3.0, requires_grad=True)
    out = create_loss(name, **options)(logits, torch.tensor([0, 1, 2, 4]))
    assert torch.isfinite(out).all() and torch.allclose(out, out[0].expand(4))  # every label looks the same
    out.sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", LOSSES.names())
def test_every_loss_shares_the_base_class_and_its_hooks(name):
    assert issubclass(LOSSES.get(name), Loss) and LOSSES.get(name).name == name
    loss = create_loss(name)
    loss.set_epoch(0)  # the engine calls both hooks on every loss
    assert loss.grad_clip is None or loss.grad_clip > 0


@pytest.mark.parametrize("name", [*LOSSES.names(), "ce+sr", "polysoft+sr"])
def test_a_bad_pair_is_one_line_naming_the_loss(name):
    with pytest.raises(NoisyLabelsError) as error:
        create_loss(name)(torch.zeros(3, 4), torch.tensor([0, 1, 4]))
    loss = "sr" if name.endswith("+sr") else name
    assert str(error.value) == f"{loss}: labels must be class indices 0..3, got 4"


def test_a_wrapper_checks_the_pair_once(monkeypatch):
    calls = []
    check = loss_base.check_logits_labels
    monkeypatch.setattr(loss_base, "check_logits_labels", lambda *args: calls.append(args[0]) or check(*args))
    create_loss("gce+sr")(torch.randn(5, 3), torch.tensor([0, 1, 2, 0, 1]))
    assert calls == ["sr"]
