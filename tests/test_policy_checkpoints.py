"""The model zoo, the checkpoint format and the runtime backends (no ROS)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from policy_server.checkpoint import CheckpointError, load, new_checkpoint, save
from policy_server.models import Architecture
from policy_server.runtime import Policy

FAMILIES = {  # name: (algorithm, architecture, tasks)
    "sac": ("sac", Architecture(), ["pick"]),
    "cql-si multi-head": ("cql", Architecture(num_tasks=3, conditioning="multihead"), ["press_button", "pick", "open_drawer"]),
    "plas + perturbation": ("plas", Architecture(perturbation=0.05, image_size=64), ["reach"]),
    "polytask one-hot": ("polytask", Architecture(num_tasks=2, conditioning="onehot"), ["reach", "pick"]),
    "polytask embedding": ("polytask", Architecture(num_tasks=2, conditioning="embedding", state_dim=0), ["reach", "pick"]),
    "bc": ("bc", Architecture(action_dim=7), ["press_button"]),
    "cql shared encoder, 50-d features": ("cql", Architecture(feature_dim=50, shared_encoder=True), ["press_button"]),
}


def observation(arch, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (arch.image_size, arch.image_size, 3), dtype=np.uint8), rng.normal(size=8).astype(np.float32)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_save_load_round_trip_gives_the_same_policy(family, tmp_path):
    algorithm, arch, tasks = FAMILIES[family]
    checkpoint = new_checkpoint(algorithm, arch, tasks, seed=1)
    save(checkpoint, tmp_path / "policy.pt")
    loaded = load(tmp_path / "policy.pt")
    assert loaded["algorithm"] == algorithm and loaded["tasks"]["names"] == tasks
    original, restored = Policy(checkpoint, task=tasks[-1]), Policy(loaded, task=tasks[-1])
    image, state = observation(arch)
    action = restored(image, state)
    assert action.shape == (arch.action_dim,) and np.all(np.abs(action) <= 1.0)
    assert np.array_equal(action, original(image, state))


@pytest.mark.parametrize("family", list(FAMILIES))
def test_onnx_runtime_matches_torch(family):
    algorithm, arch, tasks = FAMILIES[family]
    checkpoint = new_checkpoint(algorithm, arch, tasks, seed=2)
    torch_policy, onnx_policy = Policy(checkpoint, "torch", tasks[0]), Policy(checkpoint, "onnx", tasks[0])
    for seed in range(3):
        image, state = observation(arch, seed)
        assert np.abs(torch_policy(image, state) - onnx_policy(image, state)).max() <= 1e-5


def test_task_conditioning_changes_the_action_and_names_are_checked():
    algorithm, arch, tasks = FAMILIES["cql-si multi-head"]
    policy = Policy(new_checkpoint(algorithm, arch, tasks, seed=3), task="pick")
    image, state = observation(arch)
    pick = policy(image, state)
    policy.set_task("open_drawer")
    assert not np.allclose(pick, policy(image, state))
    with pytest.raises(CheckpointError, match=r"task 'fold' is not in this checkpoint; its tasks: \['press_button', 'pick', 'open_drawer'\]"):
        policy.set_task("fold")
    with pytest.raises(CheckpointError, match="has 3 tasks; choose one"):
        Policy(policy.checkpoint)


def broken(mutate):
    checkpoint = new_checkpoint("sac", Architecture(), ["pick"])
    mutate(checkpoint)
    return checkpoint


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop("state_dicts"), r"missing key\(s\) \['state_dicts'\]"),
    (lambda c: c.update(algorithm="ppo"), "unknown algorithm 'ppo'; valid: sac, cql, plas, polytask, bc"),
    (lambda c: c.update(format_version=99), "format version 99 is newer than this polyarm reads"),
    (lambda c: c["state_dicts"]["actor"].update({"trunk.0.weight": torch.zeros(3, 3)}), "has shape \\(3, 3\\), the architecture needs"),
    (lambda c: c["state_dicts"]["actor"].pop("trunk.0.bias"), r"missing \['trunk.0.bias'\]"),
    (lambda c: c["tasks"].update(names=["a", "b"]), "2 task names and conditioning 'none' do not match"),
], ids=["missing key", "unknown algorithm", "newer version", "wrong shape", "missing weight", "task mismatch"])
def test_malformed_checkpoints_are_refused_naming_the_problem(mutate, message, tmp_path):
    path = tmp_path / "bad.pt"
    torch.save(broken(mutate), path)
    with pytest.raises(CheckpointError, match=message):
        Policy(load(path))


class NotPlainData:
    pass


def test_corrupt_files_and_pickled_code_are_refused(tmp_path):
    (tmp_path / "garbage.pt").write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(CheckpointError, match="not a readable polyarm checkpoint"):
        load(tmp_path / "garbage.pt")
    torch.save({"format_version": 1, "payload": NotPlainData()}, tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="not a readable polyarm checkpoint"):
        load(tmp_path / "code.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load(tmp_path / "nowhere.pt")


def test_export_command_writes_onnx_that_matches(tmp_path):
    save(new_checkpoint("plas", Architecture(perturbation=0.05), ["reach"]), tmp_path / "plas.pt")
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "export", str(tmp_path / "plas.pt"), "--onnx"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "plas.onnx").exists() and "max |onnx - torch|" in done.stdout


def test_wilson_interval_of_a_success_rate():
    from polyarm_learning.evaluate import wilson_interval

    low, high = wilson_interval(0, 3)
    assert low == 0.0 and high == pytest.approx(0.5615, abs=1e-4)
    low, high = wilson_interval(16, 20)
    assert low == pytest.approx(0.5840, abs=1e-3) and high == pytest.approx(0.9193, abs=1e-3)
    assert wilson_interval(20, 20)[1] == 1.0


def test_evaluation_in_the_sim_env_is_repeatable_for_the_same_seeds(tmp_path):
    from polyarm_learning.evaluate import evaluate

    checkpoint = new_checkpoint("bc", Architecture(channels=(8, 8, 8), hidden=(64,)), ["reach"], seed=2,
                                neutral_quaternion=(1.0, 0.0, 0.0, 0.0))
    runs = [evaluate(Policy(checkpoint), "panda", "reach", episodes=2, seed=10) for _ in range(2)]
    assert runs[0].successes == runs[1].successes and runs[0].episodes == 2
    save(checkpoint, tmp_path / "bc.pt")
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "evaluate", "--checkpoint", str(tmp_path / "bc.pt"),
                           "--task", "reach", "--episodes", "2"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "95% Wilson interval" in done.stdout, done.stderr
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "evaluate", "--checkpoint", str(tmp_path / "bc.pt"),
                           "--task", "open_drawer", "--robot", "wx250", "--episodes", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "the wx250 cannot do open_drawer" in done.stderr


@pytest.mark.parametrize("robot", ["panda", "xarm7", "wx250s"])
def test_the_checkpoint_hemisphere_is_the_one_the_data_was_collected_in(robot):
    """The state quaternion's sign: the env that records data and the checkpoint that evaluates must pick the
    same one. The xArm 7's home orientation (TCP straight down) has w = 0; when the env took its hemisphere from
    the measured TCP and the checkpoint from the home keyframe's forward kinematics, the two came out with
    opposite signs, every quaternion the policy saw was negated, and BC scored 0% on the xArm (docs/benchmarks.md)."""
    from polyarm_core.policy_core import PolicyCore
    from polyarm_description import get_robot
    from polyarm_learning.recipes import neutral_quaternion
    from sim_bridge.envs import PolyarmEnv

    env = PolyarmEnv(robot=robot, task="press_button", image_size=0)
    observation, _ = env.reset(seed=0)
    core = PolicyCore.for_robot(get_robot(robot), 0, 0.05, 0.2, neutral_quaternion(robot))
    evaluated = core.observe_adapter.state(env.reading.tcp_position, env.reading.tcp_quaternion,
                                           env.reading.gripper_opening)
    np.testing.assert_allclose(observation["state"], evaluated, atol=1e-6)
    env.close()
