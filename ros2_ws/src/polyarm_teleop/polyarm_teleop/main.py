"""`polyarm teleop --robot R --device D [--record DIR --task T]`: drive the arm from a teleop device over
the running graph (sim or driver), recording labelled episodes with --record.

    polyarm up --robot panda --task reach &               # the graph (no --checkpoint: no policy node)
    polyarm teleop --robot panda --device keyboard --record demos/reach --task reach
    polyarm convert demos/reach --out data/panda_reach_teleop --image-size 0
"""

from __future__ import annotations

import argparse
import sys

from polyarm_core.registry import names
from polyarm_description import ROBOTS


def main(argv: list[str] | None = None) -> int:
    from polyarm_common.entry import parameter_overrides, run_node, split_ros_args
    from polyarm_common.ros_env import configure_ros_environment
    from polyarm_core.registry import factory

    own, ros_args = split_ros_args(argv)
    parser = argparse.ArgumentParser(prog="polyarm teleop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", choices=sorted(ROBOTS), help="which arm (default panda)")
    parser.add_argument("--device", choices=names("teleop device"), default="keyboard")
    parser.add_argument("--record", help="record episodes into this folder (one MCAP bag each)")
    parser.add_argument("--task", help="the task being demonstrated (stored with each episode)")
    parser.add_argument("--rate", type=float, help="Hz at which the target is published (default 20)")
    parser.add_argument("--frame", choices=["base", "tool"], help="rotations about the base or the TCP axes")
    parser.add_argument("--reset", choices=["sim", "home"], help="the reset key: sim/reset (default) or driver/home")
    parser.add_argument("--tty", help="keyboard: read this terminal instead of stdin (e.g. /dev/pts/3)")
    parser.add_argument("--input", help="gamepad: this /dev/input/event* (default: the first gamepad found)")
    parser.add_argument("--model", help="spacemouse: pyspacemouse's model name (default: the first one found)")
    args = parser.parse_args(own)
    if args.record and not args.task:
        parser.error("--record needs --task (each episode stores what it demonstrates)")
    configure_ros_environment()
    options = {"keyboard": {"tty_path": args.tty}, "gamepad": {"path": args.input}, "spacemouse": {"model": args.model}}
    device = factory("teleop device", args.device)(**options[args.device])
    try:
        device.connect()
    except RuntimeError as err:
        print(f"polyarm teleop: {err}", file=sys.stderr)
        return 2

    def make_node():
        from polyarm_teleop.node import TeleopNode

        given = {"robot": args.robot, "record": args.record, "task": args.task, "rate": args.rate,
                 "frame": args.frame, "reset": args.reset}
        return TeleopNode(device, parameter_overrides(given))

    try:
        return run_node("teleop", ros_args, make_node, lambda node: 0 if node.quit else None)
    finally:
        device.close()  # the terminal back as it was, whatever happened (closing twice is harmless)
        print(file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
