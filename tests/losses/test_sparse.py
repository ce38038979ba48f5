import math

import pytest
import torch

from noisylabels.errors import NoisyLabelsError
from noisylabels.losses import SR_PRESETS, create_loss


def slow_sr(logits, labels, base, tau, p, lam, normalize):
    out = []
    for z, y in zip(logits.double(), labels):
        if normalize:
            z = z / max(z.norm().item(), 1e-12)
        z = z / tau
        probs = torch.softmax(z, 0)
        penalty = sum(min(max(q.item(), 1e-7), 1.0) ** p for q in probs)
        out.append(base(z[None].float(), y[None]).item() + lam * penalty)
    return torch.tensor(out)


@pytest.mark.parametrize("preset", list(SR_PRESETS))
def test_matches_reference_for_every_preset(preset):
    gen = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(16, 6, generator=gen) * 3, torch.randint(0, 6, (16,), generator=gen)
    loss = create_loss("ce+sr", preset=preset)
    v = SR_PRESETS[preset]
    expected = slow_sr(logits, labels, create_loss("ce"), v["tau"], v["p"], v["lam"], v["normalize"])
    assert torch.allclose(loss(logits, labels), expected.float(), atol=1e-4)


def test_without_penalty_scaling_or_normalising_it_is_the_base_loss():
    logits, labels = torch.randn(10, 4), torch.randint(0, 4, (10,))
    loss = create_loss("gce+sr", q=0.3, lam=0.0, tau=1.0, normalize=False)
    assert torch.allclose(loss(logits, labels), create_loss("gce", q=0.3)(logits, labels))


def test_options_go_to_the_right_place_and_lambda_grows():
    loss = create_loss("polysoft+sr", preset="mnist", t=3.0, growth=2.0, base_options={"lam": 2.0})
    assert loss.tau == 0.1 and loss.base.t == 3.0 and loss.grad_clip == 5.0
    loss.set_epoch(12)
    assert loss.current_lam == 4.0 * 2.0 ** 2 and loss.base.current_lam == 2.0 * 2.0 ** 12
    cifar = create_loss("sr")  # default base ce, preset cifar10: lambda x 1.03 every epoch
    cifar.set_epoch(3)
    assert math.isclose(cifar.current_lam, 1.2 * 1.03 ** 3)


def test_gradcheck(gradcheck_loss):
    assert gradcheck_loss(create_loss("ce+sr"), num_classes=5)


@pytest.mark.parametrize("options, message", [
    ({"p": 1.5}, r"p must be in \(0, 1\]"),
    ({"tau": 0}, "tau must be > 0"),
    ({"preset": "imagenet"}, "preset must be one of 'cifar10', .*got 'imagenet'"),
    ({"freq": 0}, "freq must be a whole number"),
])
def test_bad_arguments(options, message):
    with pytest.raises(NoisyLabelsError, match=message):
        create_loss("ce+sr", **options)
    with pytest.raises(NoisyLabelsError, match="sr wraps a plain loss"):
        create_loss("sr", base="sr")


def test_engine_steps_the_schedule_and_clips(tiny_config, tiny_splits, monkeypatch):
    from noisylabels import Trainer

    clips = []
    original = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda params, bound: clips.append(bound) or original(params, bound))
    trainer = Trainer(tiny_config.replace(method={"loss": "ce+sr", "loss_options": {"preset": "mnist"}},
                                          optim={"epochs": 2}), tiny_splits)
    trainer.fit()
    assert set(clips) == {5.0} and trainer.loss_fn.current_lam == 4.0  # epoch 1 // freq 5 = 0
