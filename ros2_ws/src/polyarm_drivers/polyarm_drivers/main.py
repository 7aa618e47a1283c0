"""`polyarm driver --robot R --backend B`: the driver node for one arm over a registered backend.

The backend's options are its flags (`polyarm driver --backend B --help` lists them): each is a field of
the driver's config dataclass and a ROS parameter of the node.
"""

from __future__ import annotations

import argparse
import os
import sys

from polyarm_core.registry import names, parse_with_backend_options
from polyarm_description import ROBOTS


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment

    own, ros_args = split_ros_args(argv)
    parser = argparse.ArgumentParser(prog="polyarm driver", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--backend", choices=names("driver"),
                        help="which driver (default mujoco: the simulated arm); a lab's own, installed with a "
                             "polyarm.drivers entry point, is listed here too")
    parser.add_argument("--joint-state-rate", type=float, help="joint_states rate, Hz (default 200)")
    parser.add_argument("--controller", choices=["external", "in-driver"],
                        help="external (default): a controller node sends joint_commands; in-driver: the OSC law runs "
                             "in the driver's own real-time loop (franky's 1 kHz)")
    args = parse_with_backend_options(parser, own, "driver", default="mujoco")
    configure_ros_environment()

    def make_node():
        from polyarm_drivers.node import DriverNode

        return DriverNode(parameter_overrides(args))

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
