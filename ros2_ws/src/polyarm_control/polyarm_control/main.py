"""`polyarm controller --robot R`: the OSC controller in its own process."""

from __future__ import annotations

import argparse
import os
import signal
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
    parser = argparse.ArgumentParser(prog="polyarm controller", description="Operational-space impedance controller at 100 Hz.")
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--mode", choices=["osc", "impedance"], help="control law (default per robot)")
    parser.add_argument("--realtime-priority", type=int, default=40, help="SCHED_FIFO priority to ask for; 0 to not ask")
    argv = sys.argv[1:] if argv is None else list(argv)
    ros_args = []
    if "--ros-args" in argv:
        i = argv.index("--ros-args")
        argv, ros_args = argv[:i], argv[i + 1 :]
    args = parser.parse_args(argv)

    from polyarm_common.ros_env import configure_ros_environment

    configure_ros_environment()
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.parameter import Parameter
    from rclpy.signals import SignalHandlerOptions

    from polyarm_control.node import ControllerNode

    for sig in (signal.SIGINT, signal.SIGTERM):  # explicit: a shell's background job starts with SIGINT ignored
        signal.signal(sig, _interrupt)
    sched = request_sched_fifo(args.realtime_priority)  # before rclpy.init: its threads inherit the policy
    rclpy.init(args=["controller", "--ros-args", *ros_args], signal_handler_options=SignalHandlerOptions.NO)
    given = {"robot": args.robot, "gains.mode": args.mode}
    overrides = [Parameter(k, value=v) for k, v in given.items() if v is not None]
    node = None
    try:
        node = ControllerNode(overrides, sched)
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except ValueError as err:  # bad parameters, named in the message
        print(f"polyarm controller: {err}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
