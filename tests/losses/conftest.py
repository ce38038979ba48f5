import pytest
import torch


@pytest.fixture
def batch():
    """20 samples, 5 classes: logits spread wide enough to reach confident predictions."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(20, 5, generator=gen) * 3, torch.randint(0, 5, (20,), generator=gen)
