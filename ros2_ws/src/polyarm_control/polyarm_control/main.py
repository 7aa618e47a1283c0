"""`polyarm controller --robot R`: the OSC controller in its own process."""

from __future__ import annotations

import argparse
import sys

from polyarm_description import ROBOTS


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.realtime import request_sched_fifo
    from polyarm_common.ros_env import configure_ros_environment

    parser = argparse.ArgumentParser(prog="polyarm controller", description="Operational-space impedance controller at 100 Hz.")
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--mode", choices=["osc", "impedance"], help="control law (default per robot)")
    parser.add_argument("--realtime-priority", type=int, default=40, help="SCHED_FIFO priority to ask for; 0 to not ask")
    own, ros_args = split_ros_args(argv)
    args = parser.parse_args(own)
    configure_ros_environment()
    sched = request_sched_fifo(args.realtime_priority)  # before rclpy starts: its threads inherit the policy

    def make_node():
        from polyarm_control.node import ControllerNode

        return ControllerNode(parameter_overrides({"robot": args.robot, "gains.mode": args.mode}), sched)

    return run_node("controller", ros_args, make_node)


if __name__ == "__main__":
    sys.exit(main())
