"""Offline training end to end: `polyarm collect` datasets in, `polyarm train`, checkpoints the policy
server runs unchanged out. The learning check trains state-based policies on scripted Panda reach
data with CI-sized budgets and evaluates them on seeds the data never saw."""

import csv
import json
import shutil

import h5py
import numpy as np
import pytest
import torch
from policy_server.checkpoint import load
from policy_server.runtime import Policy, network_inputs
from polyarm_learning.evaluate import evaluate
from polyarm_learning.train import main as train

RUN = ["--batch-size", "64", "--no-progress"]
# CI budgets, with no evaluation during training: the test evaluates the final policy (last.pt), which
# has been through the RL phase (best.pt could be the end of the warm start). The hyperparameters not
# named are the papers' defaults.
LEARNING = {
    "cql": ["--steps", "5000", "--eval-episodes", "0", "--bc-steps", "2000", "--actor-lr", "3e-4", "--discount", "0.9"],
    "plas": ["--steps", "5000", "--eval-episodes", "0", "--vae-steps", "2000", "--vae-lr", "1e-3", "--actor-lr", "3e-4", "--discount", "0.9"],
}


def success(run, episodes=20, seed=200_000, checkpoint="best.pt") -> float:
    return evaluate(Policy.load(run / checkpoint), "panda", "reach", episodes, seed).rate


def test_bc_learns_reach_from_scripted_state_data(reach_bc_run):
    assert success(reach_bc_run) >= 0.9
    rows = list(csv.DictReader((reach_bc_run / "eval.csv").open()))
    assert [int(r["step"]) for r in rows] == [1500, 3000]
    best = load(reach_bc_run / "best.pt")["training"]  # carries the evaluation it was kept for
    row = next(r for r in rows if int(r["step"]) == best["steps"])
    assert [e["success"] for e in best["evaluations"]] == [float(row["success"])] == [best["best_success"]]
    assert (reach_bc_run / "curves.png").stat().st_size > 10_000
    assert list((reach_bc_run / "tensorboard").glob("events.out.tfevents.*"))


def test_compare_plots_several_runs_and_names_a_run_without_evaluations(reach_bc_run, tmp_path, capsys):
    from polyarm_learning.plots import compare_main

    out = tmp_path / "img" / "compare.png"
    assert compare_main(["--run", f"BC={reach_bc_run}", "--run", f"again={reach_bc_run}", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000
    (tmp_path / "empty").mkdir()
    assert compare_main(["--run", f"none={tmp_path / 'empty'}", "--out", str(out)]) == 2
    assert "has no eval.csv" in capsys.readouterr().err


@pytest.mark.training
@pytest.mark.parametrize("algo", sorted(LEARNING))
def test_offline_rl_learns_reach_from_scripted_state_data(algo, reach_state_dataset, tmp_path):
    out = tmp_path / algo
    assert train(["--algo", algo, "--dataset", str(reach_state_dataset), "--out", str(out), *RUN, *LEARNING[algo]]) == 0
    assert success(out, checkpoint="last.pt") >= 0.9
    steps = {r["name"] for r in csv.DictReader((out / "train.csv").open())}
    assert {"critic_loss", "actor_loss"} <= steps  # the RL phase ran, not just its warm start


@pytest.mark.training
def test_a_trained_checkpoint_gives_the_trainers_action_in_the_policy_server(reach_state_dataset, tmp_path):
    from polyarm_learning import recipes

    trainer = recipes.trainer(recipes.TrainRequest(algo="cql", dataset=[reach_state_dataset], out=tmp_path / "r", steps=50,
                                                   eval_episodes=0, no_progress=True, batch_size=32))
    trainer.run()
    checkpoint = load(tmp_path / "r" / "last.pt")
    assert checkpoint["observation"]["state_keys"][-1] == "object_position"
    assert checkpoint["training"]["dataset_spec"]["robot"] == "panda"
    rng = np.random.default_rng(0)
    for _ in range(5):
        observation = {"state": rng.normal(size=8).astype(np.float32), "object_position": rng.normal(size=3).astype(np.float32)}
        image, state, task = network_inputs(None, np.concatenate([observation["state"], observation["object_position"]]), 0)
        with torch.no_grad():
            trainer_action = trainer.algorithm.deployed()(*map(torch.from_numpy, (image, state, task))).numpy()[0]
        for backend in ("torch", "onnx"):
            served = Policy.load(tmp_path / "r" / "last.pt", backend).act(observation)
            assert np.abs(served - trainer_action).max() <= 1e-5


def _random_transitions(n: int, action_dim: int, image_size: int = 0):
    """n random transitions of one episode (8-d states, 30% rewarded), with images if image_size."""
    from polyarm_learning.data import TransitionData

    g = torch.Generator().manual_seed(0)
    images = (torch.randint(0, 256, (n + 1, 3, image_size, image_size), dtype=torch.uint8, generator=g) if image_size
              else torch.zeros(n + 1, 0))
    return TransitionData(images, torch.randn(n + 1, 8, generator=g), torch.rand(n, action_dim, generator=g) * 2 - 1,
                          (torch.rand(n, generator=g) > 0.7).float(), torch.zeros(n), torch.arange(n), torch.arange(1, n + 1),
                          torch.zeros(n, dtype=torch.int64), {})


def test_a_shared_image_encoder_is_trained_by_the_critic_alone():
    from policy_server.models import Architecture
    from polyarm_learning.cql import CQL, CQLConfig

    data = _random_transitions(64, action_dim=8, image_size=48)
    cql = CQL(Architecture(feature_dim=50, shared_encoder=True, hidden=(64, 64)), CQLConfig(negative_samples=4, bc_steps=0))
    encoder = cql.critic.encoders[0]
    assert cql.actor.encoder is encoder and len(cql.critic.encoders) == 1
    assert not {id(p) for p in encoder.parameters()} & {id(p) for g in cql.actor_optimizer.param_groups for p in g["params"]}
    batch = data.sample(32, augment=True)
    weights = [p.detach().clone() for p in encoder.parameters()]
    head = [p.detach().clone() for p in cql.actor.trunk.parameters()]
    cql.update_actor(batch, step=1)
    assert all(torch.equal(a, b) for a, b in zip(weights, encoder.parameters(), strict=True)), "the actor trained the encoder"
    assert not all(torch.equal(a, b) for a, b in zip(head, cql.actor.trunk.parameters(), strict=True))
    metrics = cql.update_critic(batch)
    assert np.isfinite(metrics["cql_penalty"])
    assert not all(torch.equal(a, b) for a, b in zip(weights, encoder.parameters(), strict=True)), "the critic left the encoder"
    assert cql.critic_target.encoders[0] is not encoder


@pytest.mark.parametrize("shared_encoder", [False, True])
def test_a_cql_step_computing_the_policy_once_equals_the_critic_then_actor_update(shared_encoder):
    # update() hands the actor's π(·|s) to CQL's negative samples; the step must be the one that computes it twice
    import copy

    from policy_server.models import Architecture
    from polyarm_learning.cql import CQL, CQLConfig
    from polyarm_learning.sac import soft_update

    image_size = 48 if shared_encoder else 0
    data = _random_transitions(64, action_dim=8, image_size=image_size)
    arch = Architecture(image_size=image_size, feature_dim=16 if shared_encoder else 0, shared_encoder=shared_encoder, hidden=(32, 32))
    once = CQL(arch, CQLConfig(negative_samples=2, bc_steps=1))
    twice = copy.deepcopy(once)
    assert not {id(p) for p in once.actor.parameters()} & {id(p) for p in twice.actor.parameters()}
    for step in range(3):  # the warm start, then the RL phase
        batch = data.sample(16, augment=False)
        torch.manual_seed(step)
        once.update(batch, step)
        torch.manual_seed(step)
        twice.update_critic(batch)
        twice.update_actor(batch, step)
        soft_update(twice.critic_target, twice.critic, twice.config.tau)
    for name, network in once.networks().items():
        for a, b in zip(network.parameters(), twice.networks()[name].parameters(), strict=True):
            assert torch.equal(a, b), name


def test_the_cql_penalty_scores_each_state_with_its_own_negative_samples():
    # one critic pass over every state's data action and 3N samples must equal the penalty computed state by state
    from policy_server.models import Architecture
    from polyarm_learning.cql import CQL, CQLConfig, cql_penalty

    torch.manual_seed(0)
    n, batch = 3, _tiny_state_batch()
    cql = CQL(Architecture(image_size=0, action_dim=4, hidden=(16,)), CQLConfig(negative_samples=n, cql_alpha=2.0))
    features = cql.critic.features(batch.image, batch.state, batch.task)
    q_data = cql.critic.values(features, batch.action)
    next_distribution = cql.actor.distribution(batch.next_image, batch.next_state, batch.task)
    torch.manual_seed(1)
    q_scored, penalty, _ = cql.critic_values(batch, features, next_distribution)
    for scored, alone in zip(q_scored, q_data, strict=True):  # the data actions' Q from the same pass
        assert torch.allclose(scored, alone, rtol=1e-5, atol=1e-6)
    torch.manual_seed(1)  # the same samples, drawn in the same order
    with torch.no_grad():
        random = torch.empty(len(batch.action) * n, 4).uniform_(-1.0, 1.0)
        policy, log_prob = cql._samples(cql.actor.distribution(batch.image, batch.state, batch.task), n)
        next_policy, next_log_prob = cql._samples(next_distribution, n)
    by_state = 0.0
    for i in range(2):
        for s in range(len(batch.action)):
            rows, state_features = slice(s * n, (s + 1) * n), [f[s:s + 1].expand(n, -1) for f in features]
            q = [cql.critic.values(state_features, a[rows])[i][None] for a in (random, policy, next_policy)]
            by_state += cql_penalty(q_data[i][s:s + 1], *q, log_prob[rows][None], next_log_prob[rows][None], 4).item()
    assert penalty.item() == pytest.approx(2.0 * by_state / len(batch.action), rel=1e-5)


@pytest.mark.parametrize("target_gap, grows", [(-100.0, True), (100.0, False)])
def test_lagrange_cql_moves_the_penalty_weight_toward_the_target_gap_and_keeps_it_across_resume(target_gap, grows):
    from policy_server.models import Architecture
    from polyarm_learning.cql import CQL, CQLConfig

    torch.manual_seed(0)
    arch = Architecture(image_size=0, action_dim=4, hidden=(16,))
    config = CQLConfig(bc_steps=0, cql_alpha=2.0, cql_target_gap=target_gap)
    cql, data = CQL(arch, config), _random_transitions(32, action_dim=4)
    weights = [cql.update(data.sample(8, augment=False), step)["cql_weight"] for step in range(20)]
    assert weights[0] == pytest.approx(2.0)  # α' starts at 1
    assert (weights[-1] > 2.0) == grows and weights[-1] != pytest.approx(2.0)
    resumed = CQL(arch, config)
    for name, optimizer in cql.optimizers().items():
        resumed.optimizers()[name].load_state_dict(optimizer.state_dict())
    resumed.load_extra_state(cql.extra_state())
    assert resumed.penalty_weight == pytest.approx(cql.penalty_weight)
    assert "alpha_prime" not in CQL(arch, CQLConfig()).optimizers()  # a fixed α_cql run's checkpoint is unchanged


def _tiny_state_batch():
    return _random_transitions(32, action_dim=4).sample(8, augment=False)


def test_the_averaged_actor_follows_the_trained_one_by_polyak_steps_and_is_the_one_deployed():
    from policy_server.models import Architecture
    from polyarm_learning.cql import CQL, CQLConfig

    torch.manual_seed(0)
    cql, batch = CQL(Architecture(image_size=0, action_dim=4, hidden=(16,)), CQLConfig(bc_steps=1, actor_average=0.9)), _tiny_state_batch()
    for step in range(3):
        before = [p.detach().clone() for p in cql.actor_average.parameters()]
        cql.update(batch, step)
        for average, old, trained in zip(cql.actor_average.parameters(), before, cql.actor.parameters(), strict=True):
            assert torch.allclose(average, 0.9 * old + 0.1 * trained, atol=1e-7)  # θ̄ ← 0.9 θ̄ + 0.1 θ
    assert not torch.equal(next(cql.actor_average.parameters()), next(cql.actor.parameters()))
    networks = cql.networks()
    assert cql.deployed() is networks["actor"] is cql.actor_average and networks["actor_trained"] is cql.actor
    assert "actor_trained" not in CQL(Architecture(image_size=0, action_dim=4, hidden=(16,)), CQLConfig()).networks()


def test_the_cql_warm_start_runs_at_its_own_learning_rate_then_the_actors():
    from policy_server.models import Architecture
    from polyarm_learning.cql import CQL, CQLConfig

    cql = CQL(Architecture(image_size=0, action_dim=4, hidden=(16,)), CQLConfig(bc_steps=2, bc_lr=1e-3, actor_lr=3e-5, bc_on_mean=True))
    batch = _tiny_state_batch()
    for step, lr in ((0, 1e-3), (1, 1e-3), (2, 3e-5)):
        before = [p.detach().clone() for p in cql.actor.own_parameters()]
        cql.update_actor(batch, step)
        assert cql.actor_optimizer.param_groups[0]["lr"] == lr
        assert not all(torch.equal(a, b) for a, b in zip(before, cql.actor.own_parameters(), strict=True))


def test_the_temperature_moves_the_entropy_toward_the_configured_target():
    from policy_server.models import Architecture
    from polyarm_learning.sac import SAC, SACConfig

    arch, batch = Architecture(image_size=0, action_dim=4, hidden=(16,)), _tiny_state_batch()
    assert SAC(arch, SACConfig()).target_entropy == -4.0  # -|A|
    for target, sign in ((50.0, 1), (-50.0, -1)):  # far above any entropy: α rises; far below: α falls
        torch.manual_seed(0)
        sac = SAC(arch, SACConfig(target_entropy=target))
        sac.update_actor(batch, 0)
        assert sac.target_entropy == target and sign * sac.log_alpha.item() > 0


def test_the_spread_of_the_mean_warm_start_trains_only_the_actors_last_layer():
    from policy_server.models import Architecture, TanhGaussianActor

    torch.manual_seed(0)
    actor = TanhGaussianActor(Architecture(image_size=0, action_dim=3, hidden=(16, 16)))
    state, task = torch.randn(5, 8), torch.zeros(5, dtype=torch.int64)
    attached, detached = actor.distribution(None, state, task), actor.distribution(None, state, task, spread_trains_trunk=False)
    assert all(torch.equal(a, b) for a, b in zip(attached, detached, strict=True))  # the same values
    detached[1].sum().backward()
    first = actor.trunk[0].weight.grad
    assert (first is None or not first.any()) and actor.trunk[-1].weight.grad[3:].abs().sum() > 0
    assert actor.trunk[-1].weight.grad[:3].abs().sum() == 0  # the mean's rows get nothing from log σ
    actor.zero_grad()
    attached[1].sum().backward()
    assert actor.trunk[0].weight.grad.abs().sum() > 0


def _last_weights(path):
    return load(path)["state_dicts"]


@pytest.mark.training
def test_training_is_deterministic_for_a_seed_and_resumes_exactly(reach_state_dataset, tmp_path, capsys):
    base = ["--algo", "cql", "--dataset", str(reach_state_dataset), "--eval-episodes", "0", "--no-progress",
            "--batch-size", "32", "--bc-steps", "20", "--save-every", "1000"]
    assert train([*base, "--steps", "60", "--out", str(tmp_path / "a")]) == 0
    assert train([*base, "--steps", "60", "--out", str(tmp_path / "b")]) == 0
    assert train([*base, "--steps", "30", "--out", str(tmp_path / "c")]) == 0
    assert train([*base, "--steps", "60", "--out", str(tmp_path / "c"), "--resume"]) == 0
    a, b, c = (_last_weights(tmp_path / x / "last.pt") for x in "abc")
    for name in a:
        for key in a[name]:
            assert torch.equal(a[name][key], b[name][key]), f"{name}.{key} differs between two runs with one seed"
            assert torch.equal(a[name][key], c[name][key]), f"{name}.{key} differs after resuming"
    assert train([*base, "--steps", "60", "--out", str(tmp_path / "a")]) == 2  # an existing run is not overwritten
    capsys.readouterr()
    assert train([*base, "--steps", "90", "--out", str(tmp_path / "c"), "--resume", "--cql-target-gap", "-8", "--hidden", "32,32"]) == 2
    assert "trained with cql_target_gap None (now -8), hidden [256, 256] (now [32, 32])" in capsys.readouterr().err


def test_bad_datasets_are_refused_with_the_problem_named(reach_state_dataset, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(reach_state_dataset, broken)
    with h5py.File(broken / "data" / "main_data.hdf5", "a") as f:
        del f["episode_3"]["rewards"]
    assert train(["--algo", "bc", "--dataset", str(broken), "--out", str(tmp_path / "r1")]) == 2
    assert "episode 3 is missing rewards" in capsys.readouterr().err
    assert train(["--algo", "bc", "--dataset", str(reach_state_dataset), "--observation", "image", "--out", str(tmp_path / "r2")]) == 2
    assert "no images" in capsys.readouterr().err
    assert train(["--algo", "plas", "--dataset", str(reach_state_dataset), "--cql-alpha", "2", "--out", str(tmp_path / "r3")]) == 2
    assert "--cql-alpha" in capsys.readouterr().err


@pytest.fixture(scope="module")
def press_state_dataset(tmp_path_factory):
    from sim_bridge.collect import main as collect

    path = tmp_path_factory.mktemp("data") / "panda_press_state"
    assert collect(["--robot", "panda", "--task", "press_button", "--episodes", "8", "--out", str(path), "--image-size", "0"]) == 0
    return path


@pytest.mark.training
def test_cql_si_trains_tasks_in_sequence_and_reports_forgetting_and_transfer(reach_state_dataset, press_state_dataset, reach_bc_run, tmp_path):
    out = tmp_path / "si"
    assert train(["--algo", "cql-si", "--dataset", str(reach_state_dataset), "--dataset", str(press_state_dataset),
                  "--out", str(out), "--steps", "40", "--bc-steps", "20", "--eval-every", "20", "--eval-episodes", "2",
                  "--batch-size", "32", "--no-progress", "--reference-run", str(reach_bc_run)]) == 0
    report = json.loads((out / "sequential.json").read_text())
    assert report["tasks"] == ["reach", "press_button"]
    assert all(v is not None for row in report["accuracy_after_task"] for v in row)
    assert set(report["forgetting"]) == {"reach"} and "reach" in report["forward_transfer"]
    checkpoint = load(out / "best.pt")
    assert checkpoint["tasks"] == {"names": ["reach", "press_button"], "conditioning": "multihead"}
    assert {int(r["step"]) for r in csv.DictReader((out / "eval.csv").open())} == {20, 40, 60, 80}


@pytest.mark.training
def test_polytask_distills_experts_and_adds_a_task_in_lifelong_mode(reach_state_dataset, press_state_dataset, reach_bc_run, tmp_path):
    common = ["--steps", "40", "--eval-every", "40", "--eval-episodes", "2", "--batch-size", "32", "--no-progress"]
    first = tmp_path / "poly1"
    assert train(["--algo", "polytask", "--dataset", str(reach_state_dataset), "--expert", str(reach_bc_run / "best.pt"),
                  "--out", str(first), *common]) == 0
    second = tmp_path / "poly2"
    assert train(["--algo", "polytask", "--lifelong-from", str(first), "--dataset", str(press_state_dataset),
                  "--out", str(second), *common]) == 0  # the press expert is trained here (bc)
    assert (second / "experts" / "press_button" / "best.pt").exists()
    checkpoint = load(second / "best.pt")
    assert checkpoint["algorithm"] == "polytask" and checkpoint["tasks"]["names"] == ["reach", "press_button"]
    lifelong = json.loads((second / "lifelong.json").read_text())
    assert set(lifelong["forgetting"]) == {"reach"}
    Policy(checkpoint, task="press_button")  # the server runs the unified policy on either task


@pytest.mark.training
def test_cog_relabels_prior_data_with_zero_reward(reach_state_dataset, press_state_dataset, tmp_path):
    from polyarm_learning.data import load_dataset

    keys = ["tcp_position", "tcp_quaternion_xyzw", "gripper_opening", "object_position"]
    assert load_dataset(reach_state_dataset, 0, keys).rewards.sum() > 0
    assert load_dataset(reach_state_dataset, 0, keys, zero_rewards=True).rewards.abs().sum() == 0
    out = tmp_path / "cog"
    assert train(["--algo", "cog", "--dataset", str(press_state_dataset), "--prior", str(reach_state_dataset), "--out", str(out),
                  "--steps", "30", "--eval-episodes", "0", "--batch-size", "32", "--no-progress"]) == 0
    checkpoint = load(out / "last.pt")
    assert checkpoint["algorithm"] == "cql" and checkpoint["training"]["prior"] == [str(reach_state_dataset)]
