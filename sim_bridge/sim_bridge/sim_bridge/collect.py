"""`polyarm collect` and `polyarm dataset info`: scripted data collection into Minari-layout datasets.

    polyarm collect --robot panda --task pick --episodes 100 --out data/panda_pick [--prior] [--append]
    polyarm dataset info data/panda_pick

Task data is labelled (reward 1 on success steps). Prior data (--prior, COG) is unlabelled: rewards
are 0, and the behaviour of each episode is drawn from the scene's scripted behaviours
(sim_bridge.scripted.PRIOR_MIX: e.g. grasping and random pick-and-place for place_in_tray, opening and
closing for the drawer tasks), so it mixes useful and irrelevant data.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm collect", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from polyarm_description import ROBOTS

    from sim_bridge.tasks import TASKS

    parser.add_argument("--robot", required=True, choices=sorted(ROBOTS))
    parser.add_argument("--sim", default="mujoco", choices=["mujoco", "pybullet"], help="the physics engine (default mujoco)")
    parser.add_argument("--task", required=True, choices=list(TASKS))
    parser.add_argument("--episodes", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="dataset directory (created; --append to add to it)")
    parser.add_argument("--prior", action="store_true", help="COG prior data: unlabelled (reward 0), mixed behaviours")
    parser.add_argument("--start-grasped", action="store_true",
                        help="COG task data (pick, place_in_tray): the scripted grasp runs unrecorded and each "
                             "episode is recorded from the step the object is lifted in the gripper")
    parser.add_argument("--append", action="store_true", help="add episodes to an existing dataset")
    parser.add_argument("--seed", type=int, default=0, help="episode i uses seed SEED + i")
    parser.add_argument("--noise", type=float, default=0.2, help="Gaussian action noise of the scripted policy")
    parser.add_argument("--image-size", type=int, default=48, choices=[0, 48, 64],
                        help="camera image size; 0: state only (no rendering), for state-based policies")
    parser.add_argument("--episode-length", type=int, help="steps per episode (default per task)")
    parser.add_argument("--area", type=float, default=360.0, help="object space area, cm²")
    parser.add_argument("--density", type=float, default=10.0, help="object configurations per cm²")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")
    if args.start_grasped and (args.prior or args.task not in GRASP_TASKS):
        parser.error(f"--start-grasped is for task data of {' and '.join(GRASP_TASKS)}")

    from sim_bridge.rendering import configure_gl_backend

    configure_gl_backend()
    from polyarm_data.dataset import DatasetError

    from sim_bridge.tasks import TaskError

    try:
        return collect(args)
    except (DatasetError, TaskError) as err:
        print(f"polyarm collect: {err}", file=sys.stderr)
        return 2


def collect(args) -> int:
    from polyarm_data.dataset import Episode, create_or_open
    from tqdm import tqdm

    from sim_bridge.envs import PolyarmEnv
    from sim_bridge.scripted import PRIOR_MIX, scripted_policy

    env = PolyarmEnv(args.robot, args.task, image_size=args.image_size, episode_length=args.episode_length,
                     area_cm2=args.area, density=args.density, backend=args.sim)
    metadata = {
        "robot": args.robot, "sim": args.sim, "task": args.task, "prior": args.prior, "image_size": args.image_size,
        "action_scale": [env.act.position_scale, env.act.rotation_scale],
        "camera": {"width": env.camera.width, "height": env.camera.height, "K": env.camera.K.tolist(),
                   "position": list(env.camera.position), "look_at": list(env.camera.look_at)},
        "object_space": {"area_cm2": args.area, "density": args.density},
        "episode_length": env.episode_length, "policy_rate_hz": 2.0, "start_grasped": args.start_grasped, "seed": args.seed, "noise": args.noise,
        "policy": f"scripted prior mix of {len(PRIOR_MIX[args.task])} behaviours" if args.prior else f"scripted {args.task}",
    }
    storage = create_or_open(args.out, env.observation_space, env.action_space, metadata, args.append)
    stop = _StopAtEpisodeEnd()
    successes = skipped = 0
    first = storage.total_episodes
    with tqdm(range(args.episodes), desc=f"{args.robot} {args.task}", unit="ep") as bar:
        for i in bar:
            seed = args.seed + first + i
            rng = np.random.default_rng(seed)
            policy = scripted_policy(args.task, env, rng, args.noise, args.prior)
            episode = Episode(seed=seed)
            observation, info = env.reset(seed=seed)
            steps = env.episode_length
            if args.start_grasped:
                observation, info, steps = _grasp_unrecorded(env, policy, info)
                if steps == 0:
                    skipped += 1  # the noisy grasp missed: nothing to record
                    continue
            episode.start(observation, _recorded(info))
            success = False
            for _ in range(steps):
                action = policy(info)
                observation, reward, terminated, truncated, info = env.step(action)
                success |= info["success"]
                episode.step(action, observation, 0.0 if args.prior else reward, terminated, truncated, _recorded(info))
                if terminated or truncated:
                    break
            storage.update_episodes([episode.buffer()])
            successes += success
            bar.set_postfix(success=f"{successes / (i + 1):.0%}")
            if stop.requested:
                print(f"polyarm collect: stopped after {i + 1} episodes; the dataset is complete and readable", file=sys.stderr)
                break
    missed = f" ({skipped} missed grasps not recorded)" if skipped else ""
    print(f"wrote {args.out}: {storage.total_episodes} episodes, scripted success {successes}/{i + 1 - skipped} this run{missed}")
    env.close()
    return 0


GRASP_TASKS = ("pick", "place_in_tray")


def _grasp_unrecorded(env, policy, info):
    """Run the scripted grasp until the object is lifted (the policy leaves its lift phase), within
    the episode's budget. (observation, info, steps left); 0 steps left if the grasp failed."""
    observation = None
    for step in range(env.episode_length):
        if policy.phase not in policy.GRASPING:
            lifted = info["object_position"][2] > 0.05
            return observation, info, (env.episode_length - step) if lifted and observation is not None else 0
        observation, _, _, _, info = env.step(policy(info))
    return observation, info, 0


def _recorded(info: dict) -> dict:
    return {"success": bool(info["success"]), "object_position": info["object_position"].astype(np.float32),
            "tcp_position": info["tcp_position"].astype(np.float32)}


class _StopAtEpisodeEnd:
    """SIGINT/SIGTERM only set a flag: the episode in progress is finished and written, then the
    collection stops, so a stopped collection always leaves a complete, readable dataset."""

    def __init__(self):
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum, frame):
        self.requested = True


def dataset_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm dataset", description="Inspect polyarm datasets.")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="summarize a dataset")
    info.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    from polyarm_data.dataset import DatasetError, format_summary, summary

    try:
        print(format_summary(summary(args.path)))
    except DatasetError as err:
        print(f"polyarm dataset: {err}", file=sys.stderr)
        return 2
    return 0

