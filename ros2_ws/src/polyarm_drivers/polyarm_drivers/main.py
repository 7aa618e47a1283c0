"""`polyarm driver --robot R --backend B`: the driver node for one arm over a registered backend."""

from __future__ import annotations

import argparse
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
    args = parser.parse_args(own)
    configure_ros_environment()

    def make_node():
        from polyarm_drivers.node import DriverNode

        given = {"robot": args.robot, "backend": args.backend, "joint_state_rate": args.joint_state_rate}
        return DriverNode(make_driver, parameter_overrides(given))

    def check(node) -> int | None:
        if node.failure is not None:
            print(f"polyarm driver: {node.failure}", file=sys.stderr)
            return 1
        return None

    return run_node("driver", ros_args, make_node, check)


def make_driver(robot: str, backend: str):
    """The registered backend's driver for a robot profile (ValueError naming valid choices)."""
    from polyarm_core.registry import factory
    from polyarm_description import get_robot

    return factory("driver", backend)(get_robot(robot))


if __name__ == "__main__":
    sys.exit(main())
