"""PLAS: policy in the latent action space (Zhou, Bajracharya and Held, "PLAS: Latent Action Space for
Offline Reinforcement Learning", CoRL 2020, as restated in §2.4 and Algorithm 1 of Zhou's thesis).

    VAE training (M steps), eq. 2.4: maximise E_z~q[log p(a|s,z)] - D_KL[q(z|a,s) || N(0, I)]
        as BCQ's code does: ||a - D(s, z)||² + ½ KL, z = µ + σ ε
    policy training (N steps), with the CVAE frozen:
        latent action    z = z_max tanh(π_ψ(s))          (z_max = 2 by default: 2σ of the prior)
        action           a = D(s, z) [+ φ tanh(ξ(s, a)), the optional perturbation layer]
        soft clipped double Q   y = λ min_i Q'_i(s', a') + (1 - λ) max_i Q'_i(s', a')
        critic           L = Σ_i (Q_i(s, a) - (r + γ (1 - d) y))²
        actor            maximise Q_1(s, π(s))
        targets          θ' ← τ θ + (1 - τ) θ' for the critics and the policy
Hyperparameters follow BCQ's, which PLAS follows: λ = 0.75, τ = 0.005, learning rates 1e-4 (VAE,
actor) and 1e-3 (critic).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from policy_server.models import PLASPolicy, TwinQ
from torch import nn

from polyarm_learning.algorithm import OfflineAlgorithm
from polyarm_learning.data import Batch
from polyarm_learning.optim import adam
from polyarm_learning.sac import frozen, soft_update


@dataclass
class PLASConfig:
    discount: float = 0.99
    tau: float = 0.005
    lmbda: float = 0.75  # λ of the soft clipped double Q
    vae_steps: int = 20_000  # M
    vae_lr: float = 1e-4
    kl_weight: float = 0.5
    actor_lr: float = 1e-4
    critic_lr: float = 1e-3


def cvae_loss(action, reconstruction, mean, log_std, kl_weight: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """Negative eq. 2.4: the reconstruction error and the KL to the N(0, I) prior."""
    reconstruction_error = ((reconstruction - action) ** 2).mean()
    kl = (-0.5 * (1 + 2 * log_std - mean**2 - (2 * log_std).exp())).mean()
    return reconstruction_error + kl_weight * kl, kl


def soft_clipped_double_q(q1: torch.Tensor, q2: torch.Tensor, lmbda: float) -> torch.Tensor:
    return lmbda * torch.min(q1, q2) + (1 - lmbda) * torch.max(q1, q2)


class PLAS(OfflineAlgorithm):
    deployed_as = "plas"

    def __init__(self, arch, config: PLASConfig):
        self.arch, self.config = arch, config
        self.policy = PLASPolicy(arch)
        self.policy_target = copy.deepcopy(self.policy).requires_grad_(False)
        self.critic = TwinQ(arch)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        actor_parameters = list(self.policy.latent_actor.parameters())
        if self.policy.perturb is not None:
            actor_parameters += list(self.policy.perturb.parameters())
        self.vae_optimizer = adam(self.policy.cvae.parameters(), config.vae_lr)
        self.actor_optimizer = adam(actor_parameters, config.actor_lr)
        self.critic_optimizer = adam(self.critic.parameters(), config.critic_lr)

    def update(self, batch: Batch, step: int) -> dict[str, float]:
        if step < self.config.vae_steps:
            return self.update_vae(batch)
        if next(self.policy.cvae.parameters()).requires_grad:  # VAE trained: freeze it (also after a resume)
            self.policy.cvae.requires_grad_(False)
            if step == self.config.vae_steps:  # the target policy starts from the trained decoder
                self.policy_target.load_state_dict(self.policy.state_dict())
        metrics = self.update_critic(batch)
        metrics.update(self.update_actor(batch))
        soft_update(self.critic_target, self.critic, self.config.tau)
        soft_update(self.policy_target, self.policy, self.config.tau)
        return metrics

    def update_vae(self, batch: Batch) -> dict[str, float]:
        cvae = self.policy.cvae
        features = cvae.encoder(batch.image, batch.state)
        mean, log_std = cvae.encode(features, batch.action)
        z = mean + log_std.exp() * torch.randn_like(mean)
        loss, kl = cvae_loss(batch.action, cvae.decode(features, z), mean, log_std, self.config.kl_weight)
        self.vae_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.vae_optimizer.step()
        return {"vae_loss": loss.item(), "vae_kl": kl.item()}

    def update_critic(self, batch: Batch) -> dict[str, float]:
        with torch.no_grad():
            next_action = self.policy_target(batch.next_image, batch.next_state, batch.task)
            y = soft_clipped_double_q(*self.critic_target(batch.next_image, batch.next_state, batch.task, next_action), self.config.lmbda)
            target = batch.reward + self.config.discount * (1.0 - batch.done) * y
        q1, q2 = self.critic(batch.image, batch.state, batch.task, batch.action)
        loss = ((q1 - target) ** 2).mean() + ((q2 - target) ** 2).mean()
        self.critic_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_optimizer.step()
        return {"critic_loss": loss.item(), "q": q1.mean().item(), "q_target": target.mean().item()}

    def update_actor(self, batch: Batch) -> dict[str, float]:
        action = self.policy(batch.image, batch.state, batch.task)
        with frozen(self.critic):
            loss = -self.critic.first(batch.image, batch.state, batch.task, action).mean()
        self.actor_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_optimizer.step()
        return {"actor_loss": loss.item()}

    def deployed(self) -> nn.Module:
        return self.policy

    def networks(self) -> dict[str, nn.Module]:
        return {"policy": self.policy, "policy_target": self.policy_target, "critic": self.critic, "critic_target": self.critic_target}

    def optimizers(self) -> dict:
        return {"vae": self.vae_optimizer, "actor": self.actor_optimizer, "critic": self.critic_optimizer}

    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass
