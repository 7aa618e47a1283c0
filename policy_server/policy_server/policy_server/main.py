"""`polyarm policy --checkpoint F [--task T] [--backend torch|onnx]`: the policy server in its own process."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment
    from polyarm_description import ROBOTS

    parser = argparse.ArgumentParser(prog="polyarm policy", description="Run a trained policy closed-loop at 2 Hz over the controller.")
    parser.add_argument("--checkpoint", help="policy checkpoint file (or the checkpoint parameter)")
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--task", help="task of a multi-task checkpoint")
    parser.add_argument("--backend", choices=["torch", "onnx"], help="inference backend (default torch)")
    parser.add_argument("--start", action="store_true", default=None, help="act at once, without a policy/start call")
    own, ros_args = split_ros_args(argv)
    args = parser.parse_args(own)
    configure_ros_environment()

    def make_node():
        from policy_server.node import PolicyNode

        given = {"checkpoint": args.checkpoint, "robot": args.robot, "task": args.task, "backend": args.backend,
                 "autostart": args.start}
        return PolicyNode(parameter_overrides(given))

    return run_node("policy", ros_args, make_node)


if __name__ == "__main__":
    sys.exit(main())
