"""Synaptic intelligence (Zenke et al. 2017) on the actor of SAC-CQL, for tasks learned in sequence
(the SAC-CQL-SI paper (continual offline RL with synaptic intelligence), §III-B):

    eq. 7  L_µ = Σ_k Ω_k^µ (φ̃_k - φ_k)²            φ̃: the weights at the end of the previous task
    eq. 8  J_π^total(φ) = J_π(φ) + c L_µ

Each parameter's importance is the path integral of the task loss's gradient along the update,
ω_k = -Σ_t g_k(t) Δφ_k(t), accumulated during task µ (g is the gradient of J_π alone, before the penalty
is added). At the task's end Ω_k += ω_k / ((φ_k(end) - φ_k(start))² + ξ), with damping ξ, and ω is reset.
The actor is multi-headed: a head unused by the current task gets no gradient, so no importance.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from polyarm_learning.cql import CQL, CQLConfig


class SynapticIntelligence:
    def __init__(self, parameters, strength: float = 0.1, damping: float = 1e-3):
        self.parameters = [p for p in parameters if p.requires_grad]
        self.strength, self.damping = strength, damping
        zeros = [torch.zeros_like(p) for p in self.parameters]
        self.importance = [z.clone() for z in zeros]  # Ω
        self.path = [z.clone() for z in zeros]  # ω of the current task
        self.reference = [p.detach().clone() for p in self.parameters]  # φ̃
        self.task_start = [p.detach().clone() for p in self.parameters]

    def penalty(self) -> torch.Tensor:
        """Eq. 7."""
        return sum(((ref - p) ** 2 * omega).sum() for omega, ref, p in zip(self.importance, self.reference, self.parameters, strict=True))

    def step(self, optimizer: torch.optim.Optimizer) -> float:
        """After J_π's backward: note its gradient, add c ∇L_µ (eq. 8), step, and accumulate ω."""
        task_gradient = [p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for p in self.parameters]
        penalty = self.penalty()
        if self.strength > 0 and penalty.requires_grad:
            (self.strength * penalty).backward()
        before = [p.detach().clone() for p in self.parameters]
        optimizer.step()
        for omega, g, p, b in zip(self.path, task_gradient, self.parameters, before, strict=True):
            omega -= g * (p.detach() - b)
        return penalty.item()

    def consolidate(self) -> None:
        """At the end of a task: fold its path integral into Ω and make the current weights φ̃."""
        for importance, omega, p, start in zip(self.importance, self.path, self.parameters, self.task_start, strict=True):
            importance += omega / ((p.detach() - start) ** 2 + self.damping)
            omega.zero_()
        self.reference = [p.detach().clone() for p in self.parameters]
        self.task_start = [p.detach().clone() for p in self.parameters]

    def state_dict(self) -> dict:
        return {"importance": [t.clone() for t in self.importance], "path": [t.clone() for t in self.path],
                "reference": [t.clone() for t in self.reference], "task_start": [t.clone() for t in self.task_start]}

    def load_state_dict(self, state: dict) -> None:
        for key in ("importance", "path", "reference", "task_start"):
            setattr(self, key, [t.clone() for t in state[key]])


@dataclass
class CQLSIConfig(CQLConfig):
    bc_steps: int = 5_000  # the SAC-CQL-SI paper: 5k behaviour-cloning steps (per task)
    si_strength: float = 1.0  # c (the SAC-CQL-SI paper, §IV-B: 1 in every run); 0 trains the tasks in sequence without SI
    si_damping: float = 1e-3  # ξ


class CQLSI(CQL):
    """SAC-CQL with a multi-head actor regularised by synaptic intelligence; the trainer calls
    `begin_task` before each task of the sequence, which only ever sees that task's data."""

    deployed_as = "cql"

    def __init__(self, arch, config: CQLSIConfig):
        super().__init__(arch, config)
        self.si = SynapticIntelligence(self.actor.own_parameters(), config.si_strength, config.si_damping)
        self.tasks_done = 0

    def begin_task(self, task: int, step: int) -> None:
        if task > self.tasks_done:
            self.si.consolidate()
            self.tasks_done = task
        self.bc_until = step + self.config.bc_steps

    def actor_step(self) -> dict[str, float]:
        return {"si_penalty": self.si.step(self.actor_optimizer)}

    def extra_state(self) -> dict:
        return {**super().extra_state(), "si": self.si.state_dict(), "tasks_done": self.tasks_done, "bc_until": self.bc_until}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        self.si.load_state_dict(state["si"])
        self.tasks_done, self.bc_until = int(state["tasks_done"]), int(state["bc_until"])
