"""`polyarm demo` (`make demo`): the shipped press-button policy on the simulated Panda, through ROS.

It runs `polyarm eval` on the demo checkpoint (trained by `make train-demo` from 48x48 camera
images): the sim, the 100 Hz controller, the policy server and the recorder as separate processes,
20 seeded episodes. Then `polyarm evaluate` runs the same checkpoint on the same seeds in-process, in
the Gymnasium env, and the two success rates are printed side by side.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[3] / "demo"  # launch/polyarm_bringup/polyarm_bringup/demo.py
DEMO_CHECKPOINT = DEMO_DIR / "panda_press_button.pt"
DEMO_SEED = 1000  # away from the training data's seeds (0-199) and the trainer's evaluation seeds (100000+)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=str(DEMO_CHECKPOINT))
    parser.add_argument("--robot", default="panda")
    parser.add_argument("--task", default="press_button")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=DEMO_SEED)
    parser.add_argument("--out", help="run directory (default runs/demo-<time>)")
    parser.add_argument("--skip-offline", action="store_true", help="only the ROS evaluation")
    args = parser.parse_args(argv)
    if not Path(args.checkpoint).is_file():
        print(f"polyarm demo: no checkpoint at {args.checkpoint}; `make train-demo` trains it", file=sys.stderr)
        return 2
    from polyarm_bringup import ros_eval

    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    print(f"polyarm demo: {args.checkpoint} on the simulated {args.robot}, {args.task}, {args.episodes} episodes "
          "through ROS (sim, controller, policy server and recorder in their own processes)", flush=True)
    code = ros_eval.main(["--robot", args.robot, "--task", args.task, "--checkpoint", args.checkpoint,
                          "--episodes", str(args.episodes), "--seed", str(args.seed), "--out", str(out)])
    if code != 0 or args.skip_offline:
        return code
    ros = json.loads((out / "summary.json").read_text())
    print("\npolyarm demo: the same checkpoint and seeds in-process (polyarm evaluate, the Gymnasium env)", flush=True)
    offline = offline_success(args.checkpoint, args.robot, args.task, args.episodes, args.seed)
    difference = 100 * (ros["success_rate"] - offline)
    print(f"  success through ROS {100 * ros['success_rate']:.0f}%, in-process {100 * offline:.0f}% "
          f"(difference {difference:+.0f} points)")
    return 0


def offline_success(checkpoint: str, robot: str, task: str, episodes: int, seed: int) -> float:
    from policy_server.runtime import Policy
    from polyarm_learning.evaluate import evaluate

    policy = Policy.load(checkpoint, "torch", None)
    return evaluate(policy, robot, task, episodes, seed, progress=True).rate
