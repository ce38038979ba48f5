import pytest
import torch


@pytest.fixture
def batch():
    """20 samples, 5 classes: logits spread wide enough to reach confident predictions."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(20, 5, generator=gen) * 3, torch.randint(0, 5, (20,), generator=gen)


def _gradcheck(loss, num_classes: int = 3) -> bool:
    """torch.autograd.gradcheck of a per-sample loss on 4 random float64 samples."""
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(4, num_classes, dtype=torch.float64, generator=gen, requires_grad=True)
    labels = torch.randint(0, num_classes, (4,), generator=gen)
    return torch.autograd.gradcheck(lambda z: loss(z, labels), (logits,))


@pytest.fixture
def gradcheck_loss():
    return _gradcheck
