"""`polyarm fake-robot --robot panda [--host 127.0.0.1]`: the robot's controller, simulated at its network
protocol, to run the real driver against with no arm.

The Panda's is franky-sim, started as it ships: libfranka's own protocol served by a MuJoCo Panda (its
robot server on TCP 1337, the gripper on 1338, state and commands over UDP). Connect with
`polyarm driver --robot panda --backend franky --host HOST --realtime ignore`. The WidowX's is the
project's simulated Dynamixel bus (sim_bridge.dynamixel_bus) on a pseudo-terminal, with the MuJoCo arm behind
it: `polyarm driver --robot wx250s --backend dynamixel --port PATH`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

FAKES = {"panda": "franky-sim", "wx250s": "sim_bridge.dynamixel_bus", "wx250": "sim_bridge.dynamixel_bus"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm fake-robot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", required=True, choices=sorted(FAKES))
    parser.add_argument("--host", default="127.0.0.1", help="panda: the loopback address to serve on")
    parser.add_argument("--port", help="wx250s, wx250: also link this path to the bus's device (e.g. /tmp/ttyDXL)")
    args = parser.parse_args(argv)
    if FAKES[args.robot].startswith("sim_bridge."):  # the Dynamixel bus: the project's own, in its own process
        command = [sys.executable, "-m", FAKES[args.robot], "--robot", args.robot]
        os.execv(sys.executable, command + (["--port", args.port] if args.port else []))
    program = Path(sys.executable).with_name(FAKES[args.robot])
    if not program.exists():
        print(f"polyarm fake-robot: {program.name} is not installed (requirements/base.txt)", file=sys.stderr)
        return 2
    print(f"polyarm fake-robot: {program.name} serving the {args.robot} on {args.host}", flush=True)
    os.execv(str(program), [str(program), "-s", "mujoco", "--hostname", args.host])  # its own process, signals and all


if __name__ == "__main__":
    sys.exit(main())
