"""Teleop recording and conversion: recording throughput with camera frames, the time an episode takes
to close, and `polyarm convert`'s speed.

An episode's traffic is what the graph publishes while an operator records: the camera's color frames
(rgb8, 30 Hz), joint_states (200 Hz), controller/ee_pose (100 Hz), the teleop's targets (20 Hz) and the
sim's object pose and success (100 Hz), serialized to CDR once beforehand. The peer for the recording
is the disk itself: the same bytes appended to one file with no MCAP framing, in the same run.

    .venv/bin/python bench/bench_teleop.py [--seconds 10] [--episodes 5]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from polyarm_core.rotations import matrix_to_quat
from polyarm_description import get_robot
from polyarm_teleop.convert import convert
from polyarm_teleop.session import RecordingSession
from rosbags.typesys import Stores, get_typestore

STORE = get_typestore(Stores.ROS2_JAZZY)
T = STORE.types
TOPICS = {"camera/color/image_raw": ("sensor_msgs/msg/Image", 30), "joint_states": ("sensor_msgs/msg/JointState", 200),
          "controller/ee_pose": ("geometry_msgs/msg/PoseStamped", 100),
          "controller/target_pose": ("geometry_msgs/msg/PoseStamped", 20),
          "sim/object_pose": ("geometry_msgs/msg/PoseStamped", 100), "sim/success": ("std_msgs/msg/Bool", 100)}


def header(ns: int):
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                    frame_id="base_link")


def message(topic: str, ns: int, width: int, height: int, robot) -> bytes:
    kind = TOPICS[topic][0]
    if kind == "sensor_msgs/msg/Image":
        pixels = np.random.default_rng(ns % 1000).integers(0, 255, (height, width, 3), np.uint8)
        msg = T[kind](header(ns), height, width, "rgb8", 0, 3 * width, pixels.ravel())
    elif kind == "sensor_msgs/msg/JointState":
        names = list(robot.arm_joints) + list(robot.finger_joints)
        q = np.zeros(len(names))
        q[-1] = 0.02
        msg = T[kind](header(ns), names, q, np.zeros(len(names)), np.zeros(len(names)))
    elif kind == "geometry_msgs/msg/PoseStamped":
        x = 0.4 + 0.1 * np.sin(ns * 1e-9)
        q = matrix_to_quat(np.diag([1.0, -1.0, -1.0]))
        msg = T[kind](header(ns), T["geometry_msgs/msg/Pose"](T["geometry_msgs/msg/Point"](x, 0.0, 0.3),
                                                               T["geometry_msgs/msg/Quaternion"](*q)))
    else:
        msg = T[kind](False)
    return bytes(STORE.serialize_cdr(msg, kind))


def traffic(seconds: float, width: int, height: int, robot) -> list[tuple[str, int, bytes]]:
    """The episode's messages in time order, serialized beforehand (frames reuse 30 distinct images)."""
    rows = []
    images = {}
    for topic, (_, rate) in TOPICS.items():
        for k in range(int(seconds * rate)):
            ns = 10**9 + int(k * 1e9 / rate)
            if topic == "camera/color/image_raw":
                data = images.setdefault(k % 30, message(topic, ns, width, height, robot))
                data = data[:4] + header_bytes(ns) + data[12:]  # its own stamp
            else:
                data = message(topic, ns, width, height, robot)
            rows.append((topic, ns, data))
    return sorted(rows, key=lambda row: row[1])


def header_bytes(ns: int) -> bytes:
    return np.array([ns // 10**9], "<i4").tobytes() + np.array([ns % 10**9], "<u4").tobytes()


def record(folder: Path, rows, robot, label: str = "success", seed: int = 0) -> tuple[float, float]:
    """(seconds writing, seconds closing) of one episode."""
    session = RecordingSession(folder, robot.name, "reach", {t: k for t, (k, _) in TOPICS.items()}, camera_rate_hz=30)
    session.handle("start", seed=seed)
    t0 = time.perf_counter()
    for topic, ns, data in rows:
        session.write(topic, ns, data)
    t1 = time.perf_counter()
    session.handle(label)
    return t1 - t0, time.perf_counter() - t1


def raw_write(path: Path, rows) -> float:
    t0 = time.perf_counter()
    with open(path, "wb") as f:
        for _, _, data in rows:
            f.write(data)
        f.flush()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each recorded episode")
    parser.add_argument("--episodes", type=int, default=5, help="episodes converted")
    args = parser.parse_args()
    robot = get_robot("panda")
    work = Path(tempfile.mkdtemp(prefix="bench_teleop_"))
    try:
        print(f"| {args.seconds:g} s episode | MB | write s | x real time | MB/s | raw file MB/s | ratio | close ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for width, height in ((320, 240), (640, 480)):
            rows = traffic(args.seconds, width, height, robot)
            megabytes = sum(len(d) for _, _, d in rows) / 1e6
            writing, closing = record(work / f"rec_{width}", rows, robot)
            raw = raw_write(work / f"raw_{width}.bin", rows)
            print(f"| camera {width}x{height} @ 30 Hz | {megabytes:.0f} | {writing:.2f} | {args.seconds / writing:.0f} | "
                  f"{megabytes / writing:.0f} | {megabytes / raw:.0f} | {raw / writing:.2f} | {1e3 * closing:.1f} |")
        rows = traffic(args.seconds, 320, 240, robot)
        for i in range(args.episodes):
            record(work / "demos", rows, robot, seed=i)
        print()
        print("| convert | episodes | s | episodes/s | s of recording per s |")
        print("|---|---:|---:|---:|---:|")
        for size in (0, 48):
            t0 = time.perf_counter()
            convert(work / "demos", work / f"dataset_{size}", image_size=size, progress=False)
            spent = time.perf_counter() - t0
            print(f"| image size {size} | {args.episodes} | {spent:.2f} | {args.episodes / spent:.2f} | "
                  f"{args.episodes * args.seconds / spent:.0f} |")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
