"""Conservative Q-learning, CQL(H), on SAC, non-Lagrange unless `cql_target_gap` is set (the SAC-CQL-SI paper, eq. 6; COG, appendix A.3):

    eq. 6  J_Q^total(θ_i) = J_Q(θ_i) + α_cql E_s[log Σ_a exp Q_i(s, a) - E_{a~D} Q_i(s, a)]

The logsumexp over actions is estimated as in CQL's code, by importance sampling with N negative
samples from each of: the uniform density on [-1, 1]^|A| (0.5^|A|), π(·|s) and π(·|s'), each Q minus its
log density (CQL's `min_q_version` 3). COG: α_cql = 1, N = 1, no entropy term in the backup (CQL(H)),
and the actor behaviour-cloned for the first 10k steps: J_π = E[α log π(a_π|s) - log π(a_D|s)].
Each critic scores a state's data action and its 3N samples in one pass (`TwinQ.values` on B x (1 + 3N)
actions), its features passing the first layer once per state.

Two warm-start options go beyond COG, for short runs on small data: `bc_on_mean` regresses the deployed
action tanh(μ) onto a_D by squared error (as `--algo bc`) and fits σ apart, and `bc_lr` lets the warm start
run at a higher learning rate than the RL phase that follows (COG's policy lr, 3e-5). The squared-error
warm start never uses the temperature: while it fits σ below the target entropy, α keeps rising (to
about 2 over 4000 steps from images) and then outweighs Q in the RL phase. `--target-entropy` near the
fitted entropy avoids that (α 0.15-0.6 measured), though success after the RL phase stayed at 25-40%.

`importance_sampling=False` is CQL's `min_q_version` 2: the logsumexp of the samples' and the data
action's Q as they are. A warm-started actor is narrow (log π about +13 against the uniform's
8 log 0.5 = -5.5), so under importance sampling its samples weigh about e^-18 of a uniform one and the
penalty pushes down the uniform samples only; version 2 pushes down the actor's own samples too. From
48x48 images that did worse (docs/benchmarks.md): 35% / 15% a thousand RL steps after a 100% warm start
(α_cql 5 / 20), against 80% / 95% with importance sampling.

`bc_weight` keeps the warm start's squared error in the RL phase's actor loss, weighted as TD3+BC
weighs it (w·mean|Q|, so w does not depend on Q's scale). The critic is CQL's, unchanged. From 48x48
images at w 0.4 (docs/benchmarks.md) the RL phase held 90-100% for 3000-4000 steps where the pure CQL
actor fell to 30-50%; the actor still moves, less far (0.044 per action dimension over 3000 steps,
against 0.080). At α_cql 20 and 5 the critic then diverged and success collapsed; at α_cql 1 it held
80% through the RL phase on three seeds of four, and with `--feature-dim 50` at 100% on two of three
(the third's warm start reached 70%, which the RL phase kept). Without the term (w 0, or TD3+BC's own
0.05) the actor fell to 15-55% on either network.

`cql_target_gap` τ turns on the Lagrange form of CQL (Kumar et al. 2020; `with_lagrange` in its code):

    min_Q max_{α' ≥ 0}  α' (α_cql E_s[log Σ_a exp Q(s, a) - E_{a~D} Q(s, a)] - τ) + J_Q

α' is learnt by gradient ascent on its own (Adam at the critic's learning rate, from 1): it grows while
the weighted gap exceeds τ and shrinks below it, so the penalty's weight α'·α_cql follows the critic
instead of being fixed. COG used the fixed weight. τ is in the gap's units, which under importance
sampling include the samples' log-densities (about -8 to -13 for a narrow actor), so read it off a
fixed-α run's logged `cql_penalty` times α_cql. At τ -8 on COG's stitching the gap never came up to τ
and α' only fell, an annealing schedule in effect (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from polyarm_learning.bc import distillation_loss
from polyarm_learning.optim import adam
from polyarm_learning.sac import SAC, SACConfig, action_log_prob, actor_loss, squashed_sample


@dataclass
class CQLConfig(SACConfig):
    entropy_backup: bool = False  # CQL(H): no -α log π in the Q backup (COG A.3)
    cql_alpha: float = 1.0
    negative_samples: int = 1
    bc_steps: int = 10_000  # behaviour-cloning warm start of the actor
    bc_on_mean: bool = False  # warm start on ||tanh(μ) - a_D||² instead of -log π(a_D|s)
    bc_lr: float | None = None  # the actor's learning rate during the warm start (None: actor_lr)
    importance_sampling: bool = True  # CQL's min_q_version 3 (COG); False: version 2
    bc_weight: float = 0.0  # after the warm start, keep w·mean|Q|·||tanh(μ) - a_D||² in J_π (TD3+BC's form)
    cql_target_gap: float | None = None  # τ: Lagrange CQL, α' adapts so α_cql·gap stays at τ; None: fixed α_cql


def cql_penalty(q_data, q_random, q_policy, q_next_policy, log_prob_policy, log_prob_next_policy, action_dim: int,
                importance_sampling: bool = True):
    """Eq. 6's bracket for one critic. q_data: B; the others: B x N."""
    if importance_sampling:
        log_uniform = action_dim * math.log(0.5)
        samples = [q_random - log_uniform, q_policy - log_prob_policy, q_next_policy - log_prob_next_policy]
    else:
        samples = [q_random, q_data[:, None], q_policy, q_next_policy]
    return (torch.logsumexp(torch.cat(samples, dim=1), dim=1) - q_data).mean()


def lagrange_multiplier(log_alpha_prime: torch.Tensor) -> torch.Tensor:
    """α' = exp(log α'), clamped to [0, 1e6] as in CQL's code."""
    return log_alpha_prime.exp().clamp(0.0, 1e6)


def lagrange_loss(log_alpha_prime: torch.Tensor, weighted_gap: torch.Tensor, target_gap: float) -> torch.Tensor:
    """The dual step of Lagrange CQL: minimising -α' (α_cql·gap - τ) raises α' while the gap exceeds τ."""
    return -lagrange_multiplier(log_alpha_prime) * (weighted_gap.detach() - target_gap)


def bc_regularized_actor_loss(sac_loss, q, mean, action_data, weight: float) -> torch.Tensor:
    """TD3+BC's trade-off (Fujimoto & Gu 2021) on SAC's loss: the squared error of the deployed action,
    summed over the action as `--algo bc` sums it, is weighted by mean|Q| of the actor's action, so that w
    does not depend on the scale the rewards and the CQL penalty give Q. TD3+BC's default (λ = 2.5 /
    mean|Q|, the error averaged over the action) is w = 1 / (2.5 |A|): 0.05 for the arms' 8-D action."""
    return sac_loss + weight * q.abs().mean().detach() * distillation_loss(torch.tanh(mean), action_data)


def bc_actor_loss(log_prob_policy, log_prob_data, alpha) -> torch.Tensor:
    """The warm start's actor loss: maximise the dataset action's likelihood, keep the entropy term."""
    return (alpha * log_prob_policy - log_prob_data).mean()


def bc_mean_actor_loss(mean, log_std, action_data) -> torch.Tensor:
    """The `bc_on_mean` warm start: the deployed action's squared error fits μ (as `--algo bc`), and
    -log π(a_D|s) with μ held fixed fits σ to the data's spread around it. The actor computes σ for this
    loss from features its trunk does not learn from (`spread_trains_trunk=False`): else -log π dominates
    the trunk, and the warm start learnt press-button from images no better than COG's loss (25-30%
    against BC's 70-100%). Without the σ term σ stays broad, the backup's a' ~ π(·|s') land off the data,
    and Q fell to -500..-800 within 4000 steps."""
    return distillation_loss(torch.tanh(mean), action_data) - action_log_prob(mean.detach(), log_std, action_data).mean()


class CQL(SAC):
    deployed_as = "cql"

    def __init__(self, arch, config: CQLConfig):
        super().__init__(arch, config)
        self.bc_until = config.bc_steps  # SAC-CQL-SI moves this to each task's start
        self.lagrange = config.cql_target_gap is not None
        if self.lagrange:
            self.log_alpha_prime = torch.zeros((), requires_grad=True)
            self.alpha_prime_optimizer = adam([self.log_alpha_prime], config.critic_lr)

    @property
    def penalty_weight(self) -> torch.Tensor | float:
        """α' α_cql under Lagrange CQL (α' as it was before this step's dual update), else α_cql."""
        alpha_prime = lagrange_multiplier(self.log_alpha_prime).detach() if self.lagrange else 1.0
        return alpha_prime * self.config.cql_alpha

    def critic_values(self, batch, features, next_distribution, policy=None):
        n, size, action_dim = self.config.negative_samples, len(batch.action), self.arch.action_dim
        with torch.no_grad():
            random = torch.empty(size * n, action_dim).uniform_(-1.0, 1.0)
            if policy is None:
                policy = self.actor.distribution(batch.image, batch.state, batch.task)
            policy, log_prob = self._samples(policy, n)
            next_policy, next_log_prob = self._samples(next_distribution, n)
        # one pass of each critic over every state's 1 + 3N actions: its data action, then the N of each source
        actions = torch.cat([batch.action[:, None], *(a.view(size, n, action_dim) for a in (random, policy, next_policy))], dim=1)
        scored = [q.split([1, n, n, n], dim=1) for q in self.critic.values(features, actions)]
        q_data = tuple(q.squeeze(1) for q, *_ in scored)
        penalties = [cql_penalty(q, q_random, q_policy, q_next, log_prob.view(size, n), next_log_prob.view(size, n),
                                 action_dim, self.config.importance_sampling)
                     for q, (_, q_random, q_policy, q_next) in zip(q_data, scored, strict=True)]
        penalty = penalties[0] + penalties[1]
        weight = self.penalty_weight
        metrics = {"cql_penalty": penalty.item() / 2, "cql_weight": float(weight)}
        if self.lagrange:
            dual = lagrange_loss(self.log_alpha_prime, self.config.cql_alpha * penalty / 2, self.config.cql_target_gap)
            self.alpha_prime_optimizer.zero_grad(set_to_none=True)
            dual.backward()
            self.alpha_prime_optimizer.step()
        return q_data, weight * penalty, metrics

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(), **({"alpha_prime": self.alpha_prime_optimizer} if self.lagrange else {})}

    def extra_state(self) -> dict:
        return {**super().extra_state(), **({"log_alpha_prime": self.log_alpha_prime.detach().clone()} if self.lagrange else {})}

    def load_extra_state(self, state: dict) -> None:
        super().load_extra_state(state)
        if self.lagrange:
            with torch.no_grad():
                self.log_alpha_prime.copy_(state["log_alpha_prime"])

    @staticmethod
    def _samples(distribution, n):
        mean, log_std = distribution
        return squashed_sample(mean.repeat_interleave(n, 0), log_std.repeat_interleave(n, 0))

    def update_actor(self, batch, step, policy=None):
        warm = step < self.bc_until and self.config.bc_lr is not None
        for group in self.actor_optimizer.param_groups:
            group["lr"] = self.config.bc_lr if warm else self.config.actor_lr
        return super().update_actor(batch, step, policy)

    def actor_distribution(self, batch, step):
        warm_on_mean = step < self.bc_until and self.config.bc_on_mean
        return self.actor.distribution(batch.image, batch.state, batch.task, spread_trains_trunk=not warm_on_mean)

    def actor_objective(self, batch, step, mean, log_std, action, log_prob):
        if step >= self.bc_until:
            if not self.config.bc_weight:
                return super().actor_objective(batch, step, mean, log_std, action, log_prob)
            q1, q2 = self.policy_q(batch, action)
            sac_loss = actor_loss(log_prob, q1, q2, self.alpha)
            return bc_regularized_actor_loss(sac_loss, torch.min(q1, q2), mean, batch.action, self.config.bc_weight)
        if self.config.bc_on_mean:
            return bc_mean_actor_loss(mean, log_std, batch.action)
        return bc_actor_loss(log_prob, action_log_prob(mean, log_std, batch.action), self.alpha)
