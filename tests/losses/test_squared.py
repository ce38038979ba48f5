"""The squared loss against a per-sample loop, and its limiting cases."""
import torch

from noisylabels.losses import create_loss


def test_mse_equals_half_the_squared_distance_to_the_one_hot_target():
    torch.manual_seed(0)
    logits, labels = torch.randn(6, 4), torch.tensor([0, 3, 1, 2, 2, 0])
    out = create_loss("mse")(logits, labels)
    for i in range(6):
        target = torch.zeros(4)
        target[labels[i]] = 1.0
        assert torch.isclose(out[i], 0.5 * sum((logits[i, k] - target[k]) ** 2 for k in range(4)))


def test_mse_is_zero_on_the_target_and_its_gradient_points_there():
    labels = torch.tensor([1, 0])
    target = torch.nn.functional.one_hot(labels, 3).float()
    assert torch.equal(create_loss("mse")(target, labels), torch.zeros(2))
    logits = (target + 0.5).requires_grad_()
    create_loss("mse")(logits, labels).sum().backward()
    assert torch.allclose(logits.grad, torch.full((2, 3), 0.5))  # d/dz 1/2 (z - t)^2 = z - t
