"""Behaviour cloning, and PolyTask's behaviour distillation (Haldar and Pinto, 'PolyTask: Learning Unified Policies through Behavior Distillation', §II-C, D), which is behaviour
cloning onto relabelled actions:

    eq. 2  Π = argmin_Π E_{t~T} E_{(s,g)~D_t} ||Π(s, g) - π_t(s, g)||²

Relabelling (§II-D) replaces each transition's action in task t's data by the task expert's action
π_t(s); the unified policy Π is then regressed onto all tasks' relabelled data, conditioned on the task
(one-hot by default, or a learned embedding as in HCSAC). Lifelong learning adds task N+1's relabelled
data to tasks 1..N's and distils again, without growing the policy beyond the task input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from policy_server.models import ConditionedPolicy
from torch import nn

from polyarm_learning.algorithm import OfflineAlgorithm
from polyarm_learning.data import Batch, TransitionData
from polyarm_learning.optim import adam


@dataclass
class BCConfig:
    lr: float = 3e-4


def distillation_loss(student_action: torch.Tensor, teacher_action: torch.Tensor) -> torch.Tensor:
    """Eq. 2 on a batch: the squared distance, summed over the action, averaged over samples."""
    return ((student_action - teacher_action) ** 2).sum(dim=1).mean()


class BC(OfflineAlgorithm):
    """Regresses a deterministic (task-conditioned) policy onto the batch's actions: the dataset's for
    behaviour cloning, the experts' after relabelling for PolyTask."""

    deployed_as = "bc"

    def __init__(self, arch, config: BCConfig):
        self.arch, self.config = arch, config
        self.policy = ConditionedPolicy(arch)
        self.optimizer = adam(self.policy.parameters(), config.lr)

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        loss = distillation_loss(self.policy(batch.image, batch.state, batch.task), batch.action)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item()}

    def deployed(self) -> nn.Module:
        return self.policy

    def networks(self) -> dict[str, nn.Module]:
        return {"policy": self.policy}

    def optimizers(self) -> dict:
        return {"policy": self.optimizer}

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass


class BehaviorDistillation(BC):
    deployed_as = "polytask"


@torch.no_grad()
def relabel(data: TransitionData, expert: nn.Module, expert_task: int = 0, batch_size: int = 1024) -> TransitionData:
    """§II-D: every action of the task's data replaced by the expert's action for its state."""
    actions = []
    for start in range(0, len(data), batch_size):
        batch = data.batch(torch.arange(start, min(start + batch_size, len(data))))
        actions.append(expert(batch.image, batch.state, torch.full_like(batch.task, expert_task)))
    return data.with_actions(torch.cat(actions))
