"""`polyarm teleop` through ROS against the sim: an operator types into the terminal the node reads (a
real pseudo-terminal), the arm follows, and the labelled episodes it records convert to a dataset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import REPO, Collector, spin_for, spin_until
from polyarm_common import conversions as conv
from polyarm_common.processes import start_polyarm
from polyarm_common.qos import STATE

pytestmark = pytest.mark.ros


class Operator:
    """Types into the teleop's terminal, holding a key as a terminal's auto-repeat does (30 Hz)."""

    def __init__(self, node, typing_fd: int):
        self.node, self.fd = node, typing_fd

    def tap(self, keys: str, settle: float = 0.3) -> None:
        os.write(self.fd, keys.encode())
        spin_for(self.node, settle)

    def hold(self, key: str, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            os.write(self.fd, key.encode())
            spin_for(self.node, 1 / 30)


def test_the_keyboard_drives_the_arm_and_records_labelled_episodes_that_convert(node, start_node, tmp_path):
    from geometry_msgs.msg import PoseStamped

    start_node("sim", "--robot", "panda", "--no-camera", "--task", "reach", "--ros-args", "-p", "use_sim_time:=true")
    start_node("controller", "--robot", "panda")
    poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
    spin_until(node, lambda: len(poses.messages) > 20, 60, "ee_pose")
    typing, terminal = os.openpty()
    log = open(tmp_path / "teleop.log", "w")
    teleop = start_polyarm("teleop", "--robot", "panda", "--device", "keyboard", "--record", str(tmp_path / "demos"),
                           "--task", "reach", stdin=terminal, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    operator = Operator(node, typing)
    try:
        targets = Collector(node, PoseStamped, "controller/target_pose", STATE)
        spin_until(node, lambda: len(targets.messages) > 5, 60, "the teleop's targets")
        start = conv.pose_arrays(poses.last)[0]
        operator.tap("b")  # episode 0
        operator.hold("w", 1.5)  # +x at 0.1 m/s
        spin_for(node, 1.5)
        moved = conv.pose_arrays(poses.last)[0] - start
        operator.tap("y")  # success
        assert 0.08 < moved[0] < 0.2 and abs(moved[1]) < 0.01 and abs(moved[2]) < 0.01, moved
        operator.tap("h", settle=2.0)  # reset: the sim home, the target from where the arm is
        operator.tap("b")  # episode 1
        operator.hold("a", 1.0)  # +y
        operator.tap("n")  # failure
        operator.tap("b")
        operator.hold("s", 0.5)
        operator.tap("x")  # discarded: episode 2's number is free again
        operator.tap("q", settle=0.0)
        assert teleop.wait(20) == 0, (tmp_path / "teleop.log").read_text()
    finally:
        if teleop.poll() is None:
            teleop.kill()
        os.close(typing)
        os.close(terminal)
    episodes = sorted(p.name for p in (tmp_path / "demos").iterdir())
    assert episodes == ["episode_0000", "episode_0001"], episodes
    labels = [json.loads((tmp_path / "demos" / e / "episode.json").read_text())["label"] for e in episodes]
    assert labels == ["success", "failure"]
    counts = json.loads((tmp_path / "demos" / "episode_0000" / "episode.json").read_text())["counts"]
    assert counts["joint_states"] > 100 and counts["controller/target_pose"] > 20, counts
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "convert", str(tmp_path / "demos"),
                           "--out", str(tmp_path / "dataset"), "--image-size", "0", "--no-progress"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "2 episodes (1 failure, 1 success)" in done.stdout, done.stdout
    from minari.dataset.minari_storage import MinariStorage
    from polyarm_data.dataset import data_dir

    first = next(iter(MinariStorage.read(data_dir(tmp_path / "dataset")).get_episodes([0])))
    assert np.max(first["actions"][:, 0]) > 0.5, "the converted actions push +x, as the operator did"


def test_replay_plays_a_collected_episode_through_the_graph_to_success(node, start_node, tmp_path):
    from polyarm_data.collect import main as collect

    assert collect(["--robot", "panda", "--task", "reach", "--episodes", "1", "--seed", "3", "--out",
                    str(tmp_path / "data"), "--image-size", "0"]) == 0
    start_node("sim", "--robot", "panda", "--no-camera", "--task", "reach", "--ros-args", "-p", "use_sim_time:=true")
    start_node("controller", "--robot", "panda")
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "replay", str(tmp_path / "data"), "--episode", "0",
                           "--seed", "3"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the sim's success detector fired at step" in done.stdout, done.stdout
    missing = subprocess.run([sys.executable, "-m", "polyarm.cli", "replay", str(tmp_path / "data"), "--episode", "5"],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
    assert missing.returncode == 2 and "has episodes 0..0, not 5" in missing.stderr
