"""Tasks, Gymnasium environments, scripted policies and datasets (no ROS)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import gymnasium as gym
import minari
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from polyarm_data.dataset import Episode, create_or_open
from polyarm_description import get_robot
from sim_bridge.envs import PolyarmEnv
from sim_bridge.scripted import run_episode
from sim_bridge.tasks import ObjectSpace, TaskError, make_task
from sim_bridge.tasks.base import Task

from sim_bridge import envs as polyarm_envs

# --------------------------------------------------------------------- tasks


def test_object_space_has_area_times_density_configurations_inside_its_square():
    space = ObjectSpace((0.5, 0.0), area_cm2=40.0, density=10.0)
    assert space.configurations == 400
    rng = np.random.default_rng(0)
    points = np.array([space.sample(rng) for _ in range(2000)])
    half = np.sqrt(40.0) / 100 / 2
    assert np.all(np.abs(points - [0.5, 0.0]) <= half)
    assert len({tuple(np.round(p, 6)) for p in points}) <= 400
    assert np.allclose(space.sample(np.random.default_rng(7)), space.sample(np.random.default_rng(7)))


def placed(task_name: str, robot: str = "panda"):
    env = PolyarmEnv(robot, task_name)
    env.reset(seed=0)
    return env.task, env.loop.sim


def test_reach_detects_the_goal_and_not_a_near_miss():
    task, sim = placed("reach")
    goal = sim.data.body("goal").xpos.copy()
    assert task.success(sim.model, sim.data, goal + [0.02, 0, 0])
    assert not task.success(sim.model, sim.data, goal + [0.04, 0, 0])


def test_press_button_detects_a_pressed_cap_and_not_a_light_touch():
    task, sim = placed("press_button")
    adr = sim.model.joint("button_joint").qposadr[0]
    sim.data.qpos[adr] = -0.010
    assert sim.success()
    sim.data.qpos[adr] = -0.006
    assert not sim.success()


def test_pick_detects_a_lifted_block_and_not_one_barely_raised():
    import mujoco

    task, sim = placed("pick")
    adr = sim.model.joint("shed_joint").qposadr[0]
    sim.data.qpos[adr + 2] = 0.07
    mujoco.mj_kinematics(sim.model, sim.data)
    assert sim.success()
    sim.data.qpos[adr + 2] = 0.05
    mujoco.mj_kinematics(sim.model, sim.data)
    assert not sim.success()


def put_shed(sim, position):
    import mujoco

    adr = sim.model.joint("shed_joint").qposadr[0]
    sim.data.qpos[adr : adr + 3] = position
    mujoco.mj_kinematics(sim.model, sim.data)


def test_place_in_tray_detects_the_shed_in_the_tray_and_not_on_its_rim_or_held_above():
    task, sim = placed("place_in_tray")
    tray = task.tray_center
    put_shed(sim, [tray[0] + 0.03, tray[1] - 0.03, 0.02])
    assert sim.success()
    put_shed(sim, [tray[0] + 0.085, tray[1], 0.02])  # on the wall
    assert not sim.success()
    put_shed(sim, [tray[0], tray[1], 0.12])  # held above it
    assert not sim.success()


def test_drawer_detectors_open_closed_and_a_half_open_near_miss():
    from sim_bridge.tasks.drawer import TRAVEL

    for name, opening, expected in (("open_drawer", TRAVEL, True), ("open_drawer", 0.09, False),
                                    ("close_drawer", 0.005, True), ("close_drawer", 0.02, False)):
        task, sim = placed(name)
        sim.data.qpos[sim.model.joint("drawer_joint").qposadr[0]] = opening
        assert sim.success() == expected, (name, opening)


def test_take_out_of_drawer_detects_the_shed_lifted_out_and_not_still_inside():
    import mujoco

    task, sim = placed("take_out_of_drawer")
    assert not sim.success(), "the shed starts in the drawer"
    inside = sim.data.body("shed").xpos.copy()
    put_shed(sim, inside + [0, 0, 0.03])  # raised, but still below the walls' top
    assert not sim.success()
    put_shed(sim, inside + [0, 0, 0.12])
    assert sim.success()
    put_shed(sim, [inside[0] - 0.2, inside[1], 0.02])  # on the table in front of the drawer
    mujoco.mj_kinematics(sim.model, sim.data)
    assert sim.success()


def test_drawer_tasks_start_open_or_closed_as_named():
    for name, start_open in (("take_out_of_drawer", True), ("take_out_of_closed_drawer", False), ("open_drawer", False)):
        task, sim = placed(name)
        assert (task.opening(sim.model, sim.data) > 0.1) == start_open


def test_unknown_task_and_a_robot_that_cannot_do_a_task_are_refused():
    with pytest.raises(TaskError, match="valid tasks: reach, press_button, pick, place_in_tray, open_drawer"):
        make_task("fold_laundry", get_robot("panda"))
    with pytest.raises(TaskError, match="the wx250 cannot do open_drawer; robots that can: panda, xarm7"):
        make_task("open_drawer", get_robot("wx250"))

    class PandaOnly(Task):
        name = "panda_only"

        @classmethod
        def robots(cls):
            return ("panda",)

        def success(self, model, data, tcp_position):
            return False

    with pytest.raises(TaskError, match="the wx250 cannot do panda_only; robots that can: panda"):
        PandaOnly(get_robot("wx250"))


# --------------------------------------------------------------------- envs


def test_every_task_and_arm_is_registered_with_gymnasium():
    assert len(polyarm_envs.ENV_IDS) == 4 * 4 + 4 * 2  # four tasks on every arm, the drawer tasks on two
    env = gym.make("polyarm/Wx250sPressButton-v0")
    assert env.unwrapped.robot.name == "wx250s" and env.unwrapped.task.name == "press_button"
    env.close()


def test_env_passes_gymnasium_check_env():
    env = PolyarmEnv("panda", "press_button")
    check_env(env, skip_render_check=True)
    env.close()


def test_env_is_deterministic_for_a_seed():
    def rollout(seed):
        env = PolyarmEnv("xarm7", "pick", episode_length=4)
        obs, info = env.reset(seed=seed)
        trace = [obs["image"].copy(), obs["state"].copy()]
        actions = np.random.default_rng(1).uniform(-1, 1, (4, 8)).astype(np.float32)
        actions[:, 7] = -1
        for a in actions:
            obs, reward, terminated, truncated, info = env.step(a)
            trace += [obs["image"].copy(), obs["state"].copy(), np.array([reward])]
        env.close()
        return trace, info["object_position"]

    a, obj_a = rollout(3)
    b, obj_b = rollout(3)
    c, obj_c = rollout(4)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)) and np.array_equal(obj_a, obj_b)
    assert not np.allclose(obj_a[:2], obj_c[:2])


def test_env_observation_matches_the_policy_io():
    env = PolyarmEnv("panda", "reach", image_size=64)
    obs, info = env.reset(seed=0)
    assert obs["image"].shape == (64, 64, 3) and obs["image"].dtype == np.uint8
    assert np.allclose(obs["state"][:3], info["tcp_position"], atol=1e-6)
    assert obs["state"][3:7] @ env.observe.neutral_quaternion > 0.99 and obs["state"][7] == pytest.approx(1.0, abs=0.02)
    with pytest.raises(ValueError, match="not finite"):
        env.step(np.array([np.nan] + [0.0] * 7, dtype=np.float32))
    env.close()


# ------------------------------------------------------------ scripted policies

# Success over the first 10 of bench_tasks' 20 seeded episodes, Panda, action noise 0.2, state only
# (the scripted policies read the task state, not the image): the floor of the rates in
# docs/benchmarks.md ("Scripted policies"), one policy each: reach, button press, grasp,
# pick-and-place, drawer opening and closing, and opening then grasping out of a closed drawer.
DOCUMENTED_SUCCESS = {"reach": 0.95, "press_button": 0.9, "pick": 0.75, "place_in_tray": 0.75,
                      "open_drawer": 0.85, "close_drawer": 0.85, "take_out_of_closed_drawer": 0.7}


@pytest.mark.slow
@pytest.mark.parametrize("task", list(DOCUMENTED_SUCCESS))
def test_scripted_policy_reaches_its_documented_success_rate(task):
    env = PolyarmEnv("panda", task, image_size=0)
    wins = sum(run_episode(env, task, seed) for seed in range(10))
    env.close()
    assert wins / 10 >= DOCUMENTED_SUCCESS[task], f"{task}: {wins}/10"


def test_scripted_grasp_closes_in_the_step_the_block_comes_within_reach():
    """Each state gets the action COG's Algorithm 1 gives it: a state within the episode's close distance
    of the grasp point, fingers open, is labelled "close", never "open, descend" (the data BC learns from)."""
    from sim_bridge.envs import rollout
    from sim_bridge.scripted import GRIPPER_CLOSE, GRIPPER_OPEN, GraspPolicy

    env = PolyarmEnv("panda", "pick", image_size=0)
    labels = []
    for seed in range(4):
        policy = GraspPolicy(env, np.random.default_rng(seed))

        def act(observation, info, policy=policy):
            action = policy(info)
            reach = np.linalg.norm(policy.grasp_point(np.asarray(info["object_position"])) - np.asarray(info["tcp_position"]))
            if observation["state"][7] > 0.9:  # fingers open
                labels.append((reach < policy.close_within, action[6]))
            return action

        rollout(env, act, seed)
    env.close()
    assert {g for within, g in labels if within} == {GRIPPER_CLOSE}
    assert {g for within, g in labels if not within} == {GRIPPER_OPEN}


# ------------------------------------------------------------------- datasets


def record(env, path, seeds, append=False):
    storage = create_or_open(path, env.observation_space, env.action_space, {"robot": env.robot.name, "task": env.task.name}, append)
    written = []
    for seed in seeds:
        episode = Episode(seed=seed)
        obs, info = env.reset(seed=seed)
        episode.start(obs, {"success": info["success"]})
        rng = np.random.default_rng(seed)
        for _ in range(3):
            action = rng.uniform(-1, 1, 8).astype(np.float32)
            obs, reward, terminated, truncated, info = env.step(action)
            episode.step(action, obs, reward, terminated, truncated, {"success": info["success"]})
        storage.update_episodes([episode.buffer()])
        written.append(episode)
    return written


def test_dataset_reads_back_identically_through_minari(tmp_path):
    env = PolyarmEnv("panda", "press_button")
    written = record(env, tmp_path / "ds", [5, 6])
    written += record(env, tmp_path / "ds", [7], append=True)
    env.close()
    dataset = minari.MinariDataset(tmp_path / "ds" / "data")
    assert dataset.total_episodes == 3 and dataset.total_steps == 9
    for stored, original in zip(dataset.iterate_episodes(), written, strict=True):
        for key in ("image", "state"):
            assert np.array_equal(stored.observations[key], np.stack([o[key] for o in original.observations]))
        assert stored.observations["image"].dtype == np.uint8 and len(stored.observations["image"]) == 4
        assert np.array_equal(stored.actions, np.stack(original.actions))
        assert np.array_equal(stored.rewards, original.rewards)
        assert np.array_equal(stored.truncations, original.truncations)


def collect_cmd(*args):
    return [sys.executable, "-m", "polyarm.cli", "collect", *args]


def test_collect_refuses_an_existing_path_bad_tasks_and_tasks_an_arm_cannot_do(tmp_path):
    (tmp_path / "ds").mkdir()
    done = subprocess.run(collect_cmd("--robot", "panda", "--task", "pick", "--episodes", "1", "--out", str(tmp_path / "ds")),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "already exists; pass --append" in done.stderr
    done = subprocess.run(collect_cmd("--robot", "panda", "--task", "juggle", "--episodes", "1", "--out", str(tmp_path / "x")),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "invalid choice: 'juggle'" in done.stderr
    done = subprocess.run(collect_cmd("--robot", "wx250s", "--task", "open_drawer", "--episodes", "1", "--out", str(tmp_path / "y")),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "the wx250s cannot do open_drawer; robots that can: panda, xarm7" in done.stderr
    assert not (tmp_path / "y").exists()


def wait_for_episodes(path, n, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if json.loads((path / "data" / "metadata.json").read_text()).get("total_episodes", 0) >= n:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{n} episodes never written to {path}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["killed", "interrupted"])
def test_a_stopped_collection_leaves_its_complete_episodes_readable(tmp_path, sig):
    out = tmp_path / "ds"
    proc = subprocess.Popen(collect_cmd("--robot", "wx250s", "--task", "reach", "--episodes", "200", "--out", str(out)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_episodes(out, 2)
    time.sleep(0.3)  # somewhere inside the next episode
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 0 and "the dataset is complete and readable" in stderr
    dataset = minari.MinariDataset(out / "data")
    assert 2 <= dataset.total_episodes < 200
    for episode in dataset.iterate_episodes():
        assert len(episode.actions) == 20 and len(episode.observations["image"]) == 21
    # and collection goes on from there
    done = subprocess.run(collect_cmd("--robot", "wx250s", "--task", "reach", "--episodes", "1", "--out", str(out), "--append"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert minari.MinariDataset(out / "data").total_episodes == dataset.total_episodes + 1


def test_prior_data_is_unlabelled_and_says_so(tmp_path):
    out = tmp_path / "prior"
    done = subprocess.run(collect_cmd("--robot", "panda", "--task", "place_in_tray", "--episodes", "3", "--out", str(out),
                                      "--prior", "--seed", "4"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    dataset = minari.MinariDataset(out / "data")
    assert dataset.total_episodes == 3
    assert all(float(np.sum(ep.rewards)) == 0.0 for ep in dataset.iterate_episodes())
    meta = json.loads((out / "data" / "metadata.json").read_text())["polyarm"]
    assert meta["prior"] is True and meta["robot"] == "panda" and meta["task"] == "place_in_tray"
    assert meta["action_scale"] == [0.05, 0.2] and meta["camera"]["width"] == 160
    info = subprocess.run([sys.executable, "-m", "polyarm.cli", "dataset", "info", str(out)], capture_output=True, text=True, timeout=120)
    assert info.returncode == 0 and "prior data, rewards 0" in info.stdout and "episodes     3" in info.stdout
    # appending task data from another task to it is refused, naming what differs
    done = subprocess.run(collect_cmd("--robot", "panda", "--task", "pick", "--episodes", "1", "--out", str(out), "--append"),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "the dataset's task is 'place_in_tray'" in done.stderr


def test_start_grasped_task_data_begins_with_the_object_lifted_in_the_closed_gripper(tmp_path):
    out = tmp_path / "placing"
    done = subprocess.run(collect_cmd("--robot", "panda", "--task", "place_in_tray", "--episodes", "3", "--out", str(out),
                                      "--start-grasped", "--image-size", "0", "--seed", "7"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    dataset = minari.MinariDataset(out / "data")
    assert dataset.total_episodes >= 2  # a noisy grasp may miss; it is then not recorded
    for episode in dataset.iterate_episodes():
        assert episode.observations["object_position"][0][2] > 0.05  # lifted off the table
        assert episode.observations["state"][0][7] < 0.5  # gripper opening: closed on the object
        assert len(episode.actions) < 30  # the grasp's steps are not in it
    assert json.loads((out / "data" / "metadata.json").read_text())["polyarm"]["start_grasped"] is True
    refused = subprocess.run(collect_cmd("--robot", "panda", "--task", "reach", "--episodes", "1", "--out", str(tmp_path / "r"),
                                         "--start-grasped"), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "--start-grasped is for task data of pick and place_in_tray" in refused.stderr
