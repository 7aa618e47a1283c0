"""`polyarm fake-robot --robot panda [--host 127.0.0.1]`: the robot's controller, simulated at its network
protocol, to run the real driver against with no arm.

The Panda's is franky-sim, started as it ships: libfranka's own protocol served by a MuJoCo Panda (its
robot server on TCP 1337, the gripper on 1338, state and commands over UDP). Connect with
`polyarm driver --robot panda --backend franky --host HOST --realtime ignore`. The WidowX's is the
project's simulated Dynamixel bus (polyarm_fakes.dynamixel_bus) on a pseudo-terminal, with the MuJoCo arm behind
it: `polyarm driver --robot wx250s --backend dynamixel --port PATH`. The xArm 7's is the project's simulated
xArm controller (polyarm_fakes.xarm_controller): the SDK's command protocol on TCP 502 of --host (binding 502
needs root; --uds serves the controller's Unix socket instead) and the report streams on 30001-30003, with
the MuJoCo arm behind it: `polyarm driver --robot xarm7 --backend xarm --host HOST`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from polyarm_common.realtime import request_sched_fifo

from polyarm_fakes.faults import BUS_FAULT_HELP, XARM_FAULT_HELP

FAKES = {"panda": "franky-sim", "wx250s": "polyarm_fakes.dynamixel_bus", "wx250": "polyarm_fakes.dynamixel_bus",
         "xarm7": "polyarm_fakes.xarm_controller"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm fake-robot", description=__doc__,
                                     epilog=f"{XARM_FAULT_HELP}\n{BUS_FAULT_HELP}",
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", required=True, choices=sorted(FAKES))
    parser.add_argument("--host", default="127.0.0.1", help="panda, xarm7: the loopback address to serve on")
    parser.add_argument("--port", help="wx250s, wx250: also link this path to the bus's device (e.g. /tmp/ttyDXL); "
                                       "xarm7: the command port (default 502, the SDK's)")
    parser.add_argument("--uds", action="store_true", help="xarm7: also serve /tmp/xarmcontroller_uds_502 (no root needed)")
    parser.add_argument("--realtime-priority", type=int, default=50,
                        help="the project's fakes: SCHED_FIFO priority to ask for; 0 to not ask. A robot's controller is "
                             "a computer of its own: sharing the host, its stand-in runs first, so a busy host slows the "
                             "driver, not the robot")
    args = parser.parse_args(argv)
    if FAKES[args.robot].startswith("polyarm_fakes."):  # the project's own fakes, each in its own process
        # they wait in select() and sleep between physics steps; franky-sim's physics thread spins and, real-time,
        # starved the libfranka client beside it (4 mm late on a 5 cm step), so it stays an ordinary process
        print(f"polyarm fake-robot: SCHED_FIFO {request_sched_fifo(args.realtime_priority)}", flush=True)  # exec keeps it
        command = [sys.executable, "-m", FAKES[args.robot], "--robot", args.robot]
        if args.robot == "xarm7":
            command += ["--host", args.host] + (["--uds"] if args.uds else [])
        os.execv(sys.executable, command + (["--port", args.port] if args.port else []))
    program = Path(sys.executable).with_name(FAKES[args.robot])
    if not program.exists():
        print(f"polyarm fake-robot: {program.name} is not installed (requirements/base.txt)", file=sys.stderr)
        return 2
    print(f"polyarm fake-robot: {program.name} serving the {args.robot} on {args.host}", flush=True)
    os.execv(str(program), [str(program), "-s", "mujoco", "--hostname", args.host])  # its own process, signals and all


if __name__ == "__main__":
    sys.exit(main())
