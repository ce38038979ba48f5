import torch

from .checks import check_logits_labels


def logit_margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """z_y - max_{k != y} z_k per sample: (B, C) logits, (B,) labels -> (B,). Negative = misfit."""
    check_logits_labels("logit_margin", logits, labels)
    given = logits.gather(1, labels[:, None]).squeeze(1)
    others = logits.scatter(1, labels[:, None], float("-inf"))
    return given - others.max(1).values
