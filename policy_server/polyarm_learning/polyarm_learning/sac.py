"""Soft actor-critic (Haarnoja et al.), as written in the SAC-CQL-SI paper (continual offline RL with synaptic intelligence), §III-A: twin Q-functions with target
networks, a tanh-Gaussian actor and automatic entropy tuning.

    eq. 3  y = r + γ (1 - d) [min_i Q̄_i(s', a') - α log π(a'|s')],   a' ~ π(·|s')
    eq. 4  J_Q(θ_i) = ½ E[(y - Q_i(s, a))²]
    eq. 5  J_π(φ) = E[α log π(a|s) - min_i Q_i(s, a)],   a ~ π(·|s) (reparameterised)
           J(α) = -E[log α (log π(a|s) + H̄)],   target entropy H̄ = -|A|
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from policy_server.models import Architecture, TanhGaussianActor, TwinQ
from torch import nn

from polyarm_learning.algorithm import OfflineAlgorithm
from polyarm_learning.data import Batch
from polyarm_learning.optim import adam


@dataclass
class SACConfig:
    discount: float = 0.99
    tau: float = 0.005  # target network update rate
    actor_lr: float = 3e-5  # COG A.3 (identical to CQL)
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    entropy_backup: bool = True  # the -α log π term in eq. 3 (CQL(H) drops it)
    target_entropy: float | None = None  # H̄; None: -|A| (the SAC-CQL-SI paper)
    actor_average: float = 0.0  # deploy a Polyak average of the actor, this much of it kept each step; 0: the actor


# ------------------------------------------------------------------ the equations, on tensors
def squashed_sample(mean: torch.Tensor, log_std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """a = tanh(u), u ~ N(mean, std), reparameterised; with log π(a|s) including the tanh Jacobian."""
    pre_tanh = mean + log_std.exp() * torch.randn_like(mean)
    return torch.tanh(pre_tanh), squashed_log_prob(mean, log_std, pre_tanh)


def squashed_log_prob(mean: torch.Tensor, log_std: torch.Tensor, pre_tanh: torch.Tensor) -> torch.Tensor:
    """log N(u; mean, std) - Σ log(1 - tanh(u)²), the latter as 2 (log 2 - u - softplus(-2u)) for stability."""
    gaussian = (-0.5 * ((pre_tanh - mean) / log_std.exp()) ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(1)
    jacobian = (2 * (math.log(2.0) - pre_tanh - nn.functional.softplus(-2 * pre_tanh))).sum(1)
    return gaussian - jacobian


def action_log_prob(mean: torch.Tensor, log_std: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """log π(a|s) of a given (dataset) action: its pre-tanh value is atanh(a), kept off ±1."""
    pre_tanh = torch.atanh(action.clamp(-0.999, 0.999))
    return squashed_log_prob(mean, log_std, pre_tanh)


def soft_q_target(reward, done, next_q1, next_q2, next_log_prob, alpha, discount: float, entropy_backup: bool = True):
    """Eq. 3."""
    next_value = torch.min(next_q1, next_q2)
    if entropy_backup:
        next_value = next_value - alpha * next_log_prob
    return reward + discount * (1.0 - done) * next_value


def critic_loss(q: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 4, for one critic."""
    return 0.5 * ((target - q) ** 2).mean()


def actor_loss(log_prob, q1, q2, alpha) -> torch.Tensor:
    """Eq. 5."""
    return (alpha * log_prob - torch.min(q1, q2)).mean()


def temperature_loss(log_alpha: torch.Tensor, log_prob: torch.Tensor, target_entropy: float) -> torch.Tensor:
    return -(log_alpha * (log_prob + target_entropy).detach()).mean()


@contextmanager
def frozen(module: nn.Module):
    """No parameter gradients for `module` inside: an actor's loss differentiates Q with respect to the action only."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """Polyak averaging θ̄ ← θ̄ + τ (θ - θ̄) of the parameters still being trained (a frozen part is already equal)."""
    pairs = [(t, s) for t, s in zip(target.parameters(), source.parameters(), strict=True) if s.requires_grad]
    with torch.no_grad():
        torch._foreach_lerp_([t for t, _ in pairs], [s for _, s in pairs], tau)  # one fused call, not one per tensor


# ------------------------------------------------------------------ the algorithm
class SAC(OfflineAlgorithm):
    deployed_as = "sac"

    def __init__(self, arch: Architecture, config: SACConfig):
        self.arch, self.config = arch, config
        self.actor = TanhGaussianActor(arch)
        self.critic = TwinQ(arch)
        if arch.shared_encoder:
            self.actor.share_encoder(self.critic.encoders[0])
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        # the deployed, averaged actor: evaluated and saved as the policy, never trained or sampled in the losses
        self.actor_average = copy.deepcopy(self.actor).requires_grad_(False) if config.actor_average else None
        self.log_alpha = torch.zeros((), requires_grad=True)
        self.target_entropy = -float(arch.action_dim) if config.target_entropy is None else config.target_entropy
        self.actor_optimizer = adam(self.actor.own_parameters(), config.actor_lr)
        self.critic_optimizer = adam(self.critic.parameters(), config.critic_lr)
        self.alpha_optimizer = adam([self.log_alpha], config.alpha_lr)

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        # π(·|s) once a step: the actor's loss and CQL's negative samples share it. A shared encoder is changed by
        # the critic's step, so the actor then computes it again, from the new features.
        policy = None if self.arch.shared_encoder else self.actor_distribution(batch, step)
        metrics = self.update_critic(batch, policy)
        metrics.update(self.update_actor(batch, step, policy))
        soft_update(self.critic_target, self.critic, self.config.tau)
        return metrics

    def update_critic(self, batch: Batch, policy=None) -> dict[str, float]:
        features = self.critic.features(batch.image, batch.state, batch.task)
        with torch.no_grad():
            next_distribution = self.actor.distribution(batch.next_image, batch.next_state, batch.task)
            next_action, next_log_prob = squashed_sample(*next_distribution)
            next_q1, next_q2 = self.critic_target(batch.next_image, batch.next_state, batch.task, next_action)
            target = soft_q_target(batch.reward, batch.done, next_q1, next_q2, next_log_prob, self.alpha,
                                   self.config.discount, self.config.entropy_backup)
        (q1, q2), extra, metrics = self.critic_values(batch, features, next_distribution, policy)
        bellman = critic_loss(q1, target) + critic_loss(q2, target)
        self.critic_optimizer.zero_grad(set_to_none=True)
        (bellman + extra).backward()
        self.critic_optimizer.step()
        return {"critic_loss": bellman.item(), "q": q1.mean().item(), "q_target": target.mean().item(), **metrics}

    def critic_values(self, batch, features, next_distribution, policy=None) -> tuple[tuple, torch.Tensor, dict]:
        """Q1 and Q2 of the data's actions, and a term added to the critic's loss with its metrics: none for
        SAC; CQL scores its negative samples in the same pass and adds eq. 6's penalty."""
        return self.critic.values(features, batch.action), torch.zeros(()), {}

    def update_actor(self, batch: Batch, step: int, policy=None) -> dict[str, float]:
        mean, log_std = self.actor_distribution(batch, step) if policy is None else policy
        action, log_prob = squashed_sample(mean, log_std)
        loss = self.actor_objective(batch, step, mean, log_std, action, log_prob)
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        metrics = self.actor_step()
        if self.actor_average is not None:
            soft_update(self.actor_average, self.actor, 1.0 - self.config.actor_average)
        alpha_loss = temperature_loss(self.log_alpha, log_prob, self.target_entropy)
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optimizer.step()
        return {"actor_loss": loss.item(), "alpha": self.alpha.item(), "entropy": (-log_prob.mean()).item(), **metrics}

    def actor_distribution(self, batch: Batch, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.actor.distribution(batch.image, batch.state, batch.task)

    def actor_objective(self, batch, step, mean, log_std, action, log_prob) -> torch.Tensor:
        return actor_loss(log_prob, *self.policy_q(batch, action), self.alpha)

    def policy_q(self, batch: Batch, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q1 and Q2 of the actor's action, differentiable with respect to the action only."""
        with frozen(self.critic):
            return self.critic(batch.image, batch.state, batch.task, action)

    def actor_step(self) -> dict[str, float]:
        self.actor_optimizer.step()  # SAC-CQL-SI regularises here
        return {}

    # ---------------------------------------------------------------- what a checkpoint keeps
    def deployed(self) -> nn.Module:
        return self.actor if self.actor_average is None else self.actor_average

    def networks(self) -> dict[str, nn.Module]:
        """Under `actor_average`, "actor" is the average, so that last.pt deploys what best.pt does."""
        networks = {"actor": self.deployed(), "critic": self.critic, "critic_target": self.critic_target}
        if self.actor_average is not None:
            networks["actor_trained"] = self.actor
        return networks

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"actor": self.actor_optimizer, "critic": self.critic_optimizer, "alpha": self.alpha_optimizer}

    def extra_state(self) -> dict:
        return {"log_alpha": self.log_alpha.detach().clone()}

    def load_extra_state(self, state: dict) -> None:
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
