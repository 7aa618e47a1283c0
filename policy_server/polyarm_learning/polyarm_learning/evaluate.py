"""`polyarm evaluate --checkpoint F --task T --episodes N`: a checkpoint in the Gymnasium environment of a
sim task, in process, with the success rate and its confidence interval.

The policy sees what it sees on the robot: the env's observation through the same adapter, with the
checkpoint's image size, action scales and neutral quaternion. Episode i uses seed SEED + i, so two
checkpoints evaluated with the same seeds face the same object placements. With `--perception`, a
state-based policy reads the object position from perception (the sim's depth camera at the robot's
perception view, polyarm_perception) instead of the sim's ground truth, as it would on the robot.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

import numpy as np


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate: sound at 0 and n successes and small n."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class Evaluation:
    successes: int
    episodes: int
    episode_seconds: list
    perception: object = None  # the PerceivedObject that measured the object, with its figures

    @property
    def rate(self) -> float:
        return self.successes / self.episodes

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.successes, self.episodes)


def checkpoint_env(checkpoint: dict, robot: str, task: str, sim: str = "mujoco"):
    """The task's Gymnasium env, on physics engine `sim`, with the checkpoint's observation and action spec."""
    from sim_bridge.envs import PolyarmEnv

    return PolyarmEnv(robot, task, image_size=checkpoint["observation"]["image_size"],
                      position_scale=checkpoint["action"]["position_scale"],
                      rotation_scale=checkpoint["action"]["rotation_scale"],
                      neutral_action=checkpoint["action"]["dim"] == 8,
                      neutral_quaternion=checkpoint["observation"]["neutral_quaternion"], backend=sim)


def evaluate(policy, robot: str, task: str, episodes: int, seed: int = 0, progress: bool = False, env=None,
             perception: bool = False, sim: str = "mujoco") -> Evaluation:
    """Success over `episodes` seeded episodes; pass `env` (from checkpoint_env) to reuse one."""
    owned = env is None
    env = checkpoint_env(policy.checkpoint, robot, task, sim) if owned else env
    perceived = None
    if perception:
        from polyarm_learning.sim_view import PerceivedObject

        perceived = PerceivedObject(env)
    successes, durations = 0, []
    episodes_iter = range(episodes)
    if progress:
        from tqdm import tqdm

        episodes_iter = tqdm(episodes_iter, desc=f"evaluating on {robot} {task}", unit="ep")
    for i in episodes_iter:
        t0 = time.perf_counter()
        successes += policy_episode(env, policy.act, seed + i, perceived)
        durations.append(time.perf_counter() - t0)
    if perceived is not None:
        perceived.close()
    if owned:
        env.close()
    return Evaluation(successes, episodes, durations, perceived)


def policy_episode(env, model, seed: int, perceived=None) -> bool:
    """One seeded episode, each step PolicyCore.step (the policy node's step) on the env's reading; True if
    the task succeeded on any step. A non-finite action, which the node would answer with a hold, is an error.
    `perceived` (a PerceivedObject) replaces the reading's object position with perception's."""
    env.reset(seed=seed)
    if perceived is not None:
        perceived.reset()
    success = False
    for _ in range(env.episode_length):
        reading = env.reading if perceived is None else perceived.measure(env.reading)
        step = env.core.step(model, reading)
        if step.hold:
            raise ValueError(step.hold)
        _, _, terminated, truncated, info = env.apply(step.command)
        success |= info["success"]
        if terminated or truncated:
            break
    return success


def main(argv: list[str] | None = None) -> int:
    from polyarm_description import ROBOTS

    parser = argparse.ArgumentParser(prog="polyarm evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--task", required=True, help="the sim task to run it on")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--robot", default="panda", choices=sorted(ROBOTS))
    parser.add_argument("--policy-task", help="which of a multi-task checkpoint's tasks to condition on (default: --task)")
    parser.add_argument("--backend", default="torch", choices=["torch", "onnx"], help="the policy's inference runtime")
    parser.add_argument("--sim", default="mujoco", choices=["mujoco", "pybullet"],
                        help="the physics engine (default mujoco): pybullet shows the sim-to-sim gap")
    parser.add_argument("--seed", type=int, default=0, help="episode i uses seed SEED + i")
    parser.add_argument("--perception", action="store_true",
                        help="the object position from perception (depth + ICP), not the sim's ground truth")
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error("--episodes must be at least 1")

    from policy_server.checkpoint import CheckpointError, load
    from policy_server.runtime import Policy
    from sim_bridge.tasks import TaskError

    try:
        checkpoint = load(args.checkpoint)
        names = checkpoint["tasks"]["names"]
        conditioning_task = args.policy_task or (args.task if args.task in names else None)
        policy = Policy(checkpoint, args.backend, conditioning_task)
        result = evaluate(policy, args.robot, args.task, args.episodes, args.seed, progress=True, perception=args.perception,
                          sim=args.sim)
    except (CheckpointError, TaskError, ValueError) as err:
        print(f"polyarm evaluate: {err}", file=sys.stderr)
        return 2
    low, high = result.interval
    print(f"{checkpoint['algorithm']} checkpoint {args.checkpoint} on {args.robot} {args.task} in {args.sim}, seeds {args.seed}-{args.seed + args.episodes - 1}:")
    print(f"success {result.successes}/{result.episodes} = {100 * result.rate:.1f}% (95% Wilson interval {100 * low:.1f}-{100 * high:.1f}%), "
          f"{sum(result.episode_seconds) / result.episodes:.1f} s per episode")
    if result.perception is not None:
        p = result.perception
        errors = np.array(p.errors_m or [np.nan]) * 1000.0
        print(f"perception: a pose in {p.poses}/{p.frames} frames; position error mean {errors.mean():.1f} mm, "
              f"max {errors.max():.1f} mm")
    return 0


if __name__ == "__main__":
    sys.exit(main())
