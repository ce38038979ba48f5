import math

import torch

from noisylabels.losses import create_loss


def test_ce_per_sample_matches_reference():
    logits, labels = torch.randn(20, 5), torch.randint(0, 5, (20,))
    losses = create_loss("ce")(logits, labels)
    expected = [-math.log(torch.softmax(logits[i], 0)[labels[i]].item()) for i in range(20)]
    assert losses.shape == (20,) and torch.allclose(losses, torch.tensor(expected), atol=1e-5)
