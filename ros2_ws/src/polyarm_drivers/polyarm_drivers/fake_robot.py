"""`polyarm fake-robot --robot panda [--host 127.0.0.1]`: the robot's controller, simulated at its network
protocol, to run the real driver against with no arm.

The Panda's is franky-sim, started as it ships: libfranka's own protocol served by a MuJoCo Panda (its
robot server on TCP 1337, the gripper on 1338, state and commands over UDP). Connect with
`polyarm driver --robot panda --backend franky --host HOST --realtime ignore`. The xArm's and the
Dynamixel bus's come with their drivers.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FAKES = {"panda": "franky-sim"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm fake-robot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", required=True, choices=sorted(FAKES))
    parser.add_argument("--host", default="127.0.0.1", help="the loopback address to serve on")
    args = parser.parse_args(argv)
    program = Path(sys.executable).with_name(FAKES[args.robot])
    if not program.exists():
        print(f"polyarm fake-robot: {program.name} is not installed (requirements/base.txt)", file=sys.stderr)
        return 2
    print(f"polyarm fake-robot: {program.name} serving the {args.robot} on {args.host}", flush=True)
    os.execv(str(program), [str(program), "-s", "mujoco", "--hostname", args.host])  # its own process, signals and all


if __name__ == "__main__":
    sys.exit(main())
