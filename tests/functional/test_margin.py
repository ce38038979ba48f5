import torch

from noisylabels.functional import logit_margin


def test_margin_matches_loop_reference():
    logits, labels = torch.randn(50, 7), torch.randint(0, 7, (50,))
    expected = [logits[i, labels[i]] - max(logits[i, k] for k in range(7) if k != labels[i]) for i in range(50)]
    assert torch.allclose(logit_margin(logits, labels), torch.stack(expected))


def test_margin_sign():
    logits = torch.tensor([[3.0, 1.0, 0.0], [3.0, 1.0, 0.0]])
    assert logit_margin(logits, torch.tensor([0, 2])).tolist() == [2.0, -3.0]
