"""OfflineAlgorithm: what the trainer asks of every algorithm (BC and PolyTask, SAC and the CQL family, PLAS)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from polyarm_learning.data import Batch


class OfflineAlgorithm(ABC):
    # The checkpoint algorithm its deployed network is saved as (policy_server.models.DEPLOYED).
    deployed_as: str

    @abstractmethod
    def update(self, batch: Batch, step: int) -> dict[str, float]:
        """One gradient step on a minibatch; the loss terms and statistics to log."""

    @abstractmethod
    def deployed(self) -> nn.Module:
        """The network the policy server runs."""

    @abstractmethod
    def networks(self) -> dict[str, nn.Module]:
        """Every network, by name: saved in last.pt and restored on resume."""

    @abstractmethod
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Every optimiser, by name: saved in last.pt and restored on resume."""

    def begin_task(self, task: int, step: int) -> None:
        """A new stage starts training `task` (sequential learning: SAC-CQL-SI consolidates here)."""
