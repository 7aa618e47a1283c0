"""`polyarm controller --robot R`: the OSC controller in its own process."""

from __future__ import annotations

import argparse
import os
import sys

from polyarm_description import ROBOTS


def request_sched_fifo(priority: int) -> str:
    """Ask the kernel for SCHED_FIFO for this process; say what came of it.

    Called before rclpy starts, so the DDS threads the executor waits on inherit the policy: with only
    the executor real-time, a DDS thread preempted by a CPU-bound neighbour stalled it (priority
    inversion, 60 ms periods measured). The threads sleep between events, so they do not starve others."""
    if priority <= 0:
        return "not requested"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return f"granted (priority {priority})"
    except (PermissionError, OSError, AttributeError) as err:
        return f"refused ({err.__class__.__name__}: {err}); running SCHED_OTHER"


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
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
