"""Teleop latency through the running graph: a key typed into the teleop's terminal, to the teleop's
target on controller/target_pose, to the arm starting to move (controller/ee_pose).

The sim (wall clock, Panda, no camera), the controller and `polyarm teleop --device keyboard` run as
processes of their own, as a lab runs them; this process types into the teleop's pseudo-terminal and
listens. Each trial waits for the arm to be still, types one key (alternately +x and -x) at time 0,
and takes the first target that moved and the first TCP sample 0.5 mm from where it stood. The peer
is the same target stream without the teleop: this process publishes it itself at 20 Hz (one key's
worth of motion), so the difference between the two is what the keyboard and the teleop's tick add.

    .venv/bin/python bench/bench_teleop_latency.py [--trials 20]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from polyarm_common.processes import start_polyarm, stop
from polyarm_common.ros_env import configure_ros_environment

configure_ros_environment()

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from polyarm_common import conversions as conv  # noqa: E402
from polyarm_common.graph import Collector, spin_for, spin_until  # noqa: E402
from polyarm_common.qos import COMMAND, STATE  # noqa: E402

MOVED_M = 0.0005  # the arm has started to move
TICK_S, SPEED_M_S = 0.05, 0.1  # the teleop's rate (20 Hz) and speed: a key moves the target 5 mm a tick


def first_after(collector: Collector, t0: float, moved) -> float | None:
    """Seconds from t0 to the first message received after t0 for which moved(message) holds."""
    for msg, t in zip(collector.messages, collector.times):
        if t >= t0 and moved(msg):
            return t - t0
    return None


def x_of(msg) -> float:
    return conv.pose_arrays(msg)[0][0]


def wait_still(node, poses: Collector, seconds: float = 0.6) -> float:
    """Spin until the TCP moved less than 0.1 mm over `seconds`; its x then."""
    while True:
        before = x_of(poses.last)
        spin_for(node, seconds)
        if abs(x_of(poses.last) - before) < 1e-4:
            return x_of(poses.last)


def keyboard_trials(node, poses, targets, typing_fd: int, trials: int) -> tuple[list, list]:
    to_target, to_motion = [], []
    for k in range(trials):
        key, sign = ("w", 1.0) if k % 2 == 0 else ("s", -1.0)
        x0 = wait_still(node, poses)
        target_x0 = x_of(targets.last)
        poses.clear(), targets.clear()
        t0 = time.monotonic()
        os.write(typing_fd, key.encode())  # one key press: the target moves for the keyboard's hold (0.12 s)
        spin_for(node, 0.6)
        a = first_after(targets, t0, lambda m: sign * (x_of(m) - target_x0) > 1e-4)
        b = first_after(poses, t0, lambda m: sign * (x_of(m) - x0) > MOVED_M)
        if a is not None and b is not None:
            to_target.append(a)
            to_motion.append(b)
    return to_target, to_motion


def direct_trials(node, poses, publisher, trials: int) -> list:
    """The teleop's own target stream, published from here: the pose at 20 Hz, then one key's worth of
    motion (0.1 m/s for 0.12 s); from the first moved target to the arm starting to move."""
    to_motion = []
    for k in range(trials):
        sign = 1.0 if k % 2 == 0 else -1.0
        x0 = wait_still(node, poses)
        position, quaternion = conv.pose_arrays(poses.last)
        position = position.copy()

        def send(x):
            position[0] = x
            publisher.publish(conv.pose_stamped(position, quaternion, "base_link", node.get_clock().now().to_msg()))

        for _ in range(20):  # 1 s of a still target at the teleop's rate: the controller learns the period
            send(x0)
            spin_for(node, TICK_S)
        poses.clear()
        t0 = time.monotonic()
        for i in range(1, 13):
            send(x0 + sign * SPEED_M_S * min(i * TICK_S, 0.12))
            spin_for(node, TICK_S)
        b = first_after(poses, t0, lambda m: sign * (x_of(m) - x0) > MOVED_M)
        if b is not None:
            to_motion.append(b)
    return to_motion


def row(name: str, values: list) -> str:
    ms = 1e3 * np.asarray(values)
    return f"| {name:<34} | {np.median(ms):7.1f} | {np.percentile(ms, 90):7.1f} | {ms.max():7.1f} | {len(ms):3d} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench_teleop_latency_"))
    procs = [start_polyarm("sim", "--robot", "panda", "--no-camera", stdout=open(logs / "sim.log", "w"), stderr=subprocess.STDOUT),
             start_polyarm("controller", "--robot", "panda", stdout=open(logs / "controller.log", "w"), stderr=subprocess.STDOUT)]
    typing, terminal = os.openpty()
    teleop = None
    rclpy.init()
    node = rclpy.create_node("bench_teleop_latency")
    try:
        poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
        targets = Collector(node, PoseStamped, "controller/target_pose", STATE)
        spin_until(node, lambda: len(poses.messages) > 50, 60, "controller/ee_pose")
        direct = direct_trials(node, poses, node.create_publisher(PoseStamped, "controller/target_pose", COMMAND), args.trials)
        targets.clear()  # from here on, the teleop's
        teleop = start_polyarm("teleop", "--robot", "panda", "--device", "keyboard", stdin=terminal,
                               stdout=open(logs / "teleop.log", "w"), stderr=subprocess.STDOUT)
        spin_until(node, lambda: len(targets.messages) > 20, 60, "the teleop's targets")
        to_target, to_motion = keyboard_trials(node, poses, targets, typing, args.trials)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        for proc in ([teleop] if teleop else []) + procs[::-1]:
            stop(proc)
        os.close(typing)
        os.close(terminal)
    print(f"Teleop latency, Panda in the sim (wall clock), {args.trials} trials each; ms (logs in {logs})\n")
    print(f"| {'':<34} |  median |     p90 |     max |   n |")
    print(f"|{'-' * 36}|---------|---------|---------|-----|")
    print(row("key -> teleop target published", to_target))
    print(row("key -> arm starts to move", to_motion))
    print(row("peer: target -> arm starts to move", direct))
    if to_motion and direct:
        print(f"\nkey to motion / target to motion (peer): {np.median(to_motion) / np.median(direct):.2f}; "
              f"what the keyboard and the teleop add: {1e3 * (np.median(to_motion) - np.median(direct)):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
