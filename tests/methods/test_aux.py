"""AUX: a per-sample vector b added to the outputs while training, dropped at test time."""
import pytest
import torch

from noisylabels import NoisyLabelsError, Trainer


def make(tiny_config, tiny_splits, epochs=2, **options):
    config = tiny_config.replace(method={"name": "aux", "options": options}, optim={"epochs": epochs},
                                 noise={"type": "symmetric", "rate": 0.4}, run={"overwrite": True})
    return Trainer(config, tiny_splits)


def test_one_step_moves_only_the_batch_rows_by_their_gradient(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, lam=2.0, penalty=0.0)
    method = trainer.method
    batch = next(iter(trainer.loader))
    method.aux[batch.idx] = 0.3  # b away from zero, so the chain rule's lam shows
    logits = trainer.forward(0, batch.x).detach().requires_grad_()
    rows = torch.full((len(batch.idx), trainer.num_classes), 0.3, requires_grad=True)
    trainer.loss_fn(logits + 2.0 * rows, batch.y).mean().backward()  # the slow reference: d loss / d b
    before = method.aux.clone()
    out = method.training_step(trainer, batch)
    out.loss.backward()
    method.after_step(trainer)
    lr = trainer.optimizers[0].param_groups[0]["lr"]
    assert torch.allclose(method.aux[batch.idx], 0.3 - lr * rows.grad, atol=1e-6)
    others = torch.ones(len(before), dtype=torch.bool)
    others[batch.idx] = False
    assert torch.equal(method.aux[others], before[others])


def test_b_is_dropped_at_test_time_and_grows_on_the_wrong_labels(tiny_config, tiny_splits):
    trainer = make(tiny_config, tiny_splits, epochs=6, lam=3.0)
    metrics = trainer.fit()
    x = trainer.data.test.x
    assert torch.equal(trainer.method.predict(trainer, x), trainer.forward(0, x))
    last = metrics["epochs"][-1]
    assert last["aux_norm_noisy"] > last["aux_norm_clean"]
    assert trainer.method.penalty == trainer.config.optim.weight_decay  # the default penalty


def test_bad_options_are_one_line(tiny_config, tiny_splits):
    with pytest.raises(NoisyLabelsError, match="lam"):
        make(tiny_config, tiny_splits, lam=0.0)
    with pytest.raises(NoisyLabelsError, match="penalty"):
        make(tiny_config, tiny_splits, penalty=-1)
