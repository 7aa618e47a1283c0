"""`polyarm perception --robot R --task T`: the object's pose from the depth camera, in its own process."""

from __future__ import annotations

import argparse
import os
import sys

from polyarm_description import ROBOTS


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment

    parser = argparse.ArgumentParser(prog="polyarm perception", description=__doc__)
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--task", help="the task whose object to find (default pick)")
    parser.add_argument("--camera-pose", dest="camera_pose_file", help="hand-eye YAML of the camera in base_link")
    own, ros_args = split_ros_args(argv)
    args = parser.parse_args(own)
    configure_ros_environment()
    # Open3D's OpenMP threads spin while they wait: on a 2-core machine they took the CPU from the sim and
    # the controller (periods of 330 ms measured). One thread is as fast for a few hundred points.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    def make_node():
        from polyarm_perception.node import PerceptionNode

        return PerceptionNode(parameter_overrides(vars(args)))

    return run_node("perception", ros_args, make_node)


if __name__ == "__main__":
    sys.exit(main())
