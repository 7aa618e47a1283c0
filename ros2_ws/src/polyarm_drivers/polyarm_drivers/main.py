"""`polyarm driver --robot R --backend B`: the driver node for one arm over a registered backend."""

from __future__ import annotations

import argparse
import os
import sys

from polyarm_core.registry import DRIVERS
from polyarm_description import ROBOTS


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment

    own, ros_args = split_ros_args(argv)
    parser = argparse.ArgumentParser(prog="polyarm driver", description=__doc__)
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--backend", choices=sorted(DRIVERS), help="which driver (default mujoco: the simulated arm)")
    parser.add_argument("--joint-state-rate", type=float, help="joint_states rate, Hz (default 200)")
    parser.add_argument("--controller", choices=["external", "in-driver"],
                        help="external (default): a controller node sends joint_commands; in-driver: the OSC law runs "
                             "in the driver's own real-time loop (franky's 1 kHz)")
    parser.add_argument("--host", help="franky: the robot's FCI address; xarm: the controller's address")
    parser.add_argument("--port", help="dynamixel: the bus's serial device (default /dev/ttyDXL)")
    parser.add_argument("--baud", type=int, help="dynamixel: the bus's baud rate (default 1000000)")
    parser.add_argument("--realtime", choices=["enforce", "ignore"], help="franky: require a real-time kernel (default enforce)")
    parser.add_argument("--uds", action="store_true", default=None,
                        help="xarm: connect through the controller's Unix socket (on its box, or polyarm fake-robot --uds)")
    args = parser.parse_args(own)
    configure_ros_environment()

    def make_node():
        from polyarm_drivers.node import DriverNode

        given = {"robot": args.robot, "backend": args.backend, "joint_state_rate": args.joint_state_rate,
                 "controller": args.controller, "host": args.host, "realtime": args.realtime,
                 "port": args.port, "baud": args.baud, "uds": args.uds}
        return DriverNode(parameter_overrides(given))

    failed = []

    def check(node) -> int | None:
        if node.failure is not None:
            print(f"polyarm driver: {node.failure}", file=sys.stderr)
            failed.append(node.failure)
            return 1
        return None

    code = run_node("driver", ros_args, make_node, check)
    if failed:
        # A vendor SDK whose connection died can hold threads that abort the process when its objects are
        # destroyed at exit (libfranka: std::terminate): the reason is printed, leave with it, untouched.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
