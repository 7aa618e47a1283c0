"""Each algorithm's loss terms against values worked out by hand on tiny tensors."""

import math

import pytest
import torch
from policy_server.models import Architecture, PLASPolicy
from polyarm_learning.bc import distillation_loss
from polyarm_learning.cql import (
    bc_actor_loss,
    bc_mean_actor_loss,
    bc_regularized_actor_loss,
    cql_penalty,
    lagrange_loss,
)
from polyarm_learning.data import random_crop
from polyarm_learning.plas import cvae_loss, soft_clipped_double_q
from polyarm_learning.sac import actor_loss, critic_loss, soft_q_target, squashed_log_prob
from polyarm_learning.si import SynapticIntelligence

t = torch.tensor


def test_cql_penalty_is_the_importance_sampled_logsumexp_minus_the_dataset_q():
    # 2-D actions: the uniform density on [-1, 1]^2 is 0.25, so random samples get Q + log 4
    penalty = cql_penalty(q_data=t([1.0]), q_random=t([[0.5]]), q_policy=t([[2.0]]), q_next_policy=t([[1.0]]),
                          log_prob_policy=t([[0.3]]), log_prob_next_policy=t([[-0.2]]), action_dim=2)
    by_hand = math.log(math.exp(0.5 + math.log(4)) + math.exp(2.0 - 0.3) + math.exp(1.0 + 0.2)) - 1.0
    assert penalty.item() == pytest.approx(by_hand, abs=1e-6)


def test_cql_penalty_without_importance_sampling_is_the_logsumexp_of_the_samples_and_the_data():
    # CQL's min_q_version 2: no densities; the data action's Q joins the logsumexp
    penalty = cql_penalty(q_data=t([1.0]), q_random=t([[0.5]]), q_policy=t([[2.0]]), q_next_policy=t([[1.0]]),
                          log_prob_policy=t([[0.3]]), log_prob_next_policy=t([[-0.2]]), action_dim=2,
                          importance_sampling=False)
    by_hand = math.log(math.exp(0.5) + math.exp(1.0) + math.exp(2.0) + math.exp(1.0)) - 1.0
    assert penalty.item() == pytest.approx(by_hand, abs=1e-6)


def test_cql_penalty_averages_over_states():
    q = t([[0.0], [0.0]])
    penalty = cql_penalty(t([0.0, 2.0]), q, q, q, q, q, action_dim=1)
    by_hand = math.log(math.exp(math.log(2)) + 2.0) - 1.0  # per state: log(2 + 1 + 1) - Q_data; mean of (log 4 - 0, log 4 - 2)
    assert penalty.item() == pytest.approx(by_hand, abs=1e-6)


def test_lagrange_cql_dual_loss_raises_alpha_prime_while_the_gap_exceeds_the_target():
    # -α' (α_cql·gap - τ), α' = exp(log α'): at α' = 2, gap 3, τ 1 the loss is -4 and d/dlog α' = -4
    log_alpha_prime, gap = t(math.log(2.0), requires_grad=True), t(3.0, requires_grad=True)
    loss = lagrange_loss(log_alpha_prime, gap, target_gap=1.0)
    assert loss.item() == pytest.approx(-4.0)
    loss.backward()
    assert log_alpha_prime.grad.item() == pytest.approx(-4.0)  # descent raises α'
    assert gap.grad is None  # the dual step does not move Q
    below = lagrange_loss(t(0.0, requires_grad=True), t(-2.0), target_gap=1.0)
    assert below.item() == pytest.approx(3.0)  # gap below τ: descent lowers α'


def test_the_two_bc_warm_start_losses():
    # likelihood (COG): α log π(a_π|s) - log π(a_D|s)
    assert bc_actor_loss(t([-1.0, 1.0]), t([2.0, 0.0]), 0.5).item() == pytest.approx(((-0.5 - 2.0) + (0.5 - 0.0)) / 2)
    # on the mean: ||tanh(μ) - a_D||² - log π(a_D|s), one action dimension
    mean, log_std, data = t([[math.atanh(0.5)]]), t([[math.log(0.4)]]), t([[-0.5]])
    u = math.atanh(-0.5)
    log_likelihood = -0.5 * ((u - mean.item()) / 0.4) ** 2 - math.log(0.4) - 0.5 * math.log(2 * math.pi) - math.log(1 - 0.25)
    assert bc_mean_actor_loss(mean, log_std, data).item() == pytest.approx(1.0 - log_likelihood, abs=1e-5)


def test_the_bc_regularised_actor_loss_weighs_the_squared_error_by_mean_abs_q():
    # TD3+BC's form: SAC's loss + w · mean|Q| · mean ||tanh(μ) - a_D||², with mean|Q| a constant
    q = t([-4.0, 2.0], requires_grad=True)
    mean, data = t([[math.atanh(0.5)], [0.0]], requires_grad=True), t([[0.0], [0.5]])
    loss = bc_regularized_actor_loss(t(1.5), q, mean, data, weight=0.4)
    assert loss.item() == pytest.approx(1.5 + 0.4 * 3.0 * (0.25 + 0.25) / 2, abs=1e-6)
    loss.backward()
    assert q.grad is None  # the weight does not pull Q toward zero
    assert mean.grad[1, 0].item() == pytest.approx(0.4 * 3.0 * 2 * (0.0 - 0.5) / 2, abs=1e-6)


def test_the_mean_warm_start_fits_mu_by_squared_error_alone():
    mean, log_std = t([[0.3]], requires_grad=True), t([[0.0]], requires_grad=True)
    bc_mean_actor_loss(mean, log_std, t([[0.8]])).backward()
    by_hand = 2 * (math.tanh(0.3) - 0.8) * (1 - math.tanh(0.3) ** 2)  # d/dμ of the squared error
    assert mean.grad.item() == pytest.approx(by_hand, abs=1e-6)
    assert log_std.grad.item() != 0.0  # σ is fitted by the likelihood


def test_sac_target_with_entropy_without_it_and_at_a_terminal():
    args = {"next_q1": t([2.0]), "next_q2": t([3.0]), "next_log_prob": t([-1.0]), "alpha": 0.2, "discount": 0.9}
    assert soft_q_target(t([0.5]), t([0.0]), **args).item() == pytest.approx(0.5 + 0.9 * (2.0 + 0.2))
    assert soft_q_target(t([0.5]), t([0.0]), **args, entropy_backup=False).item() == pytest.approx(0.5 + 0.9 * 2.0)
    assert soft_q_target(t([0.5]), t([1.0]), **args).item() == pytest.approx(0.5)


def test_sac_critic_and_actor_losses():
    assert critic_loss(t([1.0, 2.0]), t([2.0, 4.0])).item() == pytest.approx(0.5 * (1 + 4) / 2)  # eq. 4
    assert actor_loss(t([-1.0]), t([3.0]), t([2.0]), 0.5).item() == pytest.approx(0.5 * -1.0 - 2.0)  # eq. 5


def test_tanh_gaussian_log_prob_includes_the_tanh_jacobian():
    u, mean, log_std = 0.5, 0.2, math.log(0.7)
    gaussian = -0.5 * ((u - mean) / 0.7) ** 2 - math.log(0.7) - 0.5 * math.log(2 * math.pi)
    by_hand = gaussian - math.log(1 - math.tanh(u) ** 2)
    assert squashed_log_prob(t([[mean]]), t([[log_std]]), t([[u]])).item() == pytest.approx(by_hand, abs=1e-6)


def test_synaptic_intelligence_accumulates_the_path_integral_and_penalises_quadratically():
    weights = torch.nn.Parameter(t([1.0, 2.0]))
    si = SynapticIntelligence([weights], strength=0.0, damping=0.01)
    optimizer = torch.optim.SGD([weights], lr=0.1)
    for _ in range(2):  # loss = w · (1, -2): gradient (1, -2), each step moves w by (-0.1, +0.2)
        optimizer.zero_grad()
        (weights * t([1.0, -2.0])).sum().backward()
        si.step(optimizer)
    assert torch.allclose(weights.detach(), t([0.8, 2.4]))
    assert torch.allclose(si.path[0], t([0.2, 0.8]))  # ω = -Σ g Δw = (2 x 0.1, 2 x 0.4)
    si.consolidate()
    omega = t([0.2 / (0.2**2 + 0.01), 0.8 / (0.4**2 + 0.01)])  # Ω = ω / (Δ² + ξ)
    assert torch.allclose(si.importance[0], omega)
    assert torch.count_nonzero(si.path[0]) == 0
    with torch.no_grad():
        weights.copy_(t([1.0, 2.0]))
    assert si.penalty().item() == pytest.approx((omega * t([0.2, 0.4]) ** 2).sum().item())  # Σ Ω (w̃ - w)²


def test_synaptic_intelligence_adds_the_penalty_gradient_but_not_to_the_path_integral():
    weights = torch.nn.Parameter(t([0.0]))
    si = SynapticIntelligence([weights], strength=2.0, damping=0.0)
    si.importance, si.reference = [t([3.0])], [t([1.0])]
    optimizer = torch.optim.SGD([weights], lr=0.01)
    optimizer.zero_grad()
    (weights * 0.0).sum().backward()  # the task loss has no gradient
    si.step(optimizer)
    # c ∇L = 2 x 2 x 3 x (0 - 1) = -12: one step of lr 0.01 moves w to 0.12; ω stays 0 (task gradient 0)
    assert weights.item() == pytest.approx(0.12)
    assert si.path[0].item() == 0.0


def test_plas_latent_actions_are_clipped_to_the_max_latent_action():
    policy = PLASPolicy(Architecture(image_size=0, state_dim=11, hidden=(8,), max_latent=2.0))
    with torch.no_grad():
        for p in policy.latent_actor.parameters():
            p.mul_(1e4)  # drive the latent actor far into tanh's saturation
    z = policy.latent(torch.randn(64, 11) * 10)
    assert z.abs().max() <= 2.0 and z.abs().max() > 1.99


def test_plas_soft_clipped_double_q_and_cvae_loss():
    assert soft_clipped_double_q(t([1.0]), t([3.0]), 0.75).item() == pytest.approx(0.75 * 1 + 0.25 * 3)
    loss, kl = cvae_loss(t([[0.5]]), t([[0.1]]), t([[0.2]]), t([[0.0]]), kl_weight=0.5)
    assert kl.item() == pytest.approx(-0.5 * (1 + 0 - 0.04 - 1))
    assert loss.item() == pytest.approx(0.4**2 + 0.5 * 0.02)


def test_distillation_loss_is_the_squared_distance_averaged_over_samples():
    student, teacher = t([[1.0, 2.0], [0.0, 0.0]]), t([[0.0, 0.0], [1.0, 1.0]])
    assert distillation_loss(student, teacher).item() == pytest.approx(((1 + 4) + (1 + 1)) / 2)


def test_random_crop_is_a_shifted_window_of_the_border_padded_image():
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    crops = random_crop(images, pad=2, generator=torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2), mode="replicate")
    for i in range(2):
        windows = [padded[i, :, y:y + 6, x:x + 6] for y in range(5) for x in range(5)]
        assert any(torch.equal(crops[i], w) for w in windows)
    assert crops.shape == images.shape
