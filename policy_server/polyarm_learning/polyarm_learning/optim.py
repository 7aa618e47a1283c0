"""The optimiser of every algorithm: Adam, in PyTorch's fused kernel (one kernel a parameter tensor
instead of about ten small ones; the same update, 2-12% faster on a state CQL or PLAS step here)."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def adam(parameters: Iterable[torch.Tensor], lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(parameters, lr=lr, fused=True)
