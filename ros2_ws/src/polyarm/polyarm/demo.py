"""`polyarm demo`: start the simulated Panda in its own process and report for 10 s what it streams."""

from __future__ import annotations

import argparse
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm demo", description=__doc__)
    parser.add_argument("--robot", default="panda")
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    from polyarm_common.processes import start_polyarm, stop
    from polyarm_common.ros_env import configure_ros_environment

    configure_ros_environment()
    print(f"polyarm demo: starting the {args.robot} sim (real time, 320x240 camera at 15 Hz)", flush=True)
    sim = start_polyarm("sim", "--robot", args.robot)
    try:
        wait_for = ["/joint_states", "/camera/color/image_raw", "/camera/aligned_depth_to_color/image_raw", "/diagnostics"]
        from polyarm.monitor import main as monitor

        print(f"polyarm demo: measuring topic rates for {args.duration:.0f} s", flush=True)
        code = monitor(["--duration", str(args.duration), "--wait-for", *wait_for])
    finally:
        stop(sim)
    if sim.returncode not in (0, -signal.SIGINT):
        print(f"polyarm demo: the sim exited with {sim.returncode}", file=sys.stderr)
        return 1
    return code
