"""Tasks benchmark: env steps per second (one policy step = 0.5 s of control at 100 Hz on 1 kHz
physics, rendering and the observation adapter included), collection throughput, and the scripted
policies' success rates for every task and arm.

    .venv/bin/python bench/bench_tasks.py [--episodes 20] [--robots ...] [--tasks ...] [--scripted-only]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from sim_bridge.rendering import configure_gl_backend

configure_gl_backend()

import numpy as np  # noqa: E402
from polyarm_description import ROBOTS  # noqa: E402
from sim_bridge.envs import PolyarmEnv  # noqa: E402
from sim_bridge.scripted import run_episode  # noqa: E402
from sim_bridge.tasks import TASKS  # noqa: E402


def env_steps_per_s(robot: str, steps: int = 40) -> tuple[float, float]:
    """Policy steps/s of the env, and of the same loop without rendering (the peer: control alone)."""
    env = PolyarmEnv(robot, "pick")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.step(rng.uniform(-1, 1, 8).astype(np.float32) * [1, 1, 1, 0, 0, 0, 1, -1])
    with_render = steps / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(steps):
        env.loop.run(0.5)
    control_only = steps / (time.perf_counter() - t0)
    env.close()
    return with_render, control_only


def success_rate(robot: str, task: str, episodes: int) -> tuple[float, float]:
    env = PolyarmEnv(robot, task)
    t0 = time.perf_counter()
    wins = sum(run_episode(env, task, seed) for seed in range(episodes))
    env.close()
    return wins / episodes, 60.0 * episodes / (time.perf_counter() - t0)


def collection_throughput(robot: str, task: str, episodes: int) -> float:
    """`polyarm collect` end to end (env, policy, dataset writes), in episodes per minute."""
    import subprocess
    import sys

    out = Path(tempfile.mkdtemp()) / "ds"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "polyarm.cli", "collect", "--robot", robot, "--task", task, "--episodes",
                    str(episodes), "--out", str(out)], check=True, capture_output=True)
    rate = 60.0 * episodes / (time.perf_counter() - t0)
    shutil.rmtree(out.parent)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robots", nargs="+", default=sorted(ROBOTS), choices=sorted(ROBOTS))
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS), help="rows of the scripted table")
    parser.add_argument("--scripted-only", action="store_true", help="only the scripted policies' table")
    args = parser.parse_args()
    if not args.scripted_only:
        env_and_collection(args.robots)
    scripted_success(args.robots, args.tasks, args.episodes)


def env_and_collection(robots: list[str]) -> None:
    print("Env steps/s (48x48 image from a 160x120 render; one step = 50 controller ticks = 500 physics steps)")
    print(f"{'robot':<8} {'steps/s':>8} {'control only':>13} {'ratio':>6}")
    for robot in robots:
        ours, control = env_steps_per_s(robot)
        print(f"{robot:<8} {ours:>8.1f} {control:>13.1f} {ours / control:>6.2f}")

    print("\nCollection throughput, `polyarm collect` end to end (10 episodes of pick, 30 steps each)")
    for robot in robots:
        print(f"{robot:<8} {collection_throughput(robot, 'pick', 10):>6.1f} episodes/min")


def scripted_success(robots: list[str], tasks: list[str], episodes: int) -> None:
    print(f"\nScripted policies, success over {episodes} seeded episodes, action noise 0.2 (episodes/min in brackets)")
    print(f"{'task':<26}" + "".join(f"{r:>16}" for r in robots))
    for task in tasks:
        cells = []
        for robot in robots:
            if robot not in TASKS[task].robots():
                cells.append("-")
                continue
            rate, per_min = success_rate(robot, task, episodes)
            cells.append(f"{100 * rate:.0f}% ({per_min:.0f})")
        print(f"{task:<26}" + "".join(f"{c:>16}" for c in cells), flush=True)


if __name__ == "__main__":
    main()
