"""`polyarm teleop` through ROS against the sim: an operator types into the terminal the node reads (a
real pseudo-terminal), the arm follows, and the labelled episodes it records convert to a dataset."""

from __future__ import annotations

import json
import os
import re
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


class ReachOperator(Operator):
    """A scripted operator who watches the goal (sim/object_pose) and the target the keys move
    (controller/target_pose), holds the keys toward the goal, one axis or several at once, and lets go
    of each a key's coast (hold_s x 0.1 m/s, 12 mm) before it arrives, as a practised person would."""

    AXIS_KEYS = (("w", "s"), ("a", "d"), ("r", "f"))  # +x -x, +y -y, +z -z
    COAST_M = 0.012

    def __init__(self, node, typing_fd: int, poses, goals, targets):
        super().__init__(node, typing_fd)
        self.poses, self.goals, self.targets = poses, goals, targets

    def reset(self) -> None:
        """The reset key, then wait for the teleop's targets to come back (it sends none while it resets)."""
        self.tap("h")
        self.targets.clear()
        spin_until(self.node, lambda: len(self.targets.messages) > 3, 30, "the teleop's targets after a reset")

    def keys(self) -> str:
        error = conv.pose_arrays(self.goals.last)[0] - conv.pose_arrays(self.targets.last)[0]
        return "".join(plus if e > 0 else minus for e, (plus, minus) in zip(error, self.AXIS_KEYS) if abs(e) > self.COAST_M)

    def reach(self, timeout: float = 20.0) -> float:
        """Drive the arm to the goal; the distance left once it settled."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            keys = self.keys()
            if not keys:
                spin_for(self.node, 0.25)  # the last keys coast to a stop; then look again
                if not self.keys():
                    break
                continue
            os.write(self.fd, keys.encode())
            spin_for(self.node, 1 / 30)
        settle_end = time.monotonic() + 3.0
        while self.left() > 0.02 and time.monotonic() < settle_end:
            spin_for(self.node, 0.05)  # the arm settles on the target
        spin_for(self.node, 0.6)  # and stays there a moment before the label, as a person checks it
        return self.left()

    def left(self) -> float:
        return float(np.linalg.norm(conv.pose_arrays(self.goals.last)[0] - conv.pose_arrays(self.poses.last)[0]))


def test_keyboard_demonstrations_through_ros_convert_and_train_a_policy_that_reaches(node, start_node, tmp_path, capsys):
    """The mission's second use end to end: 15 reach demonstrations typed into the teleop's terminal,
    labelled, converted, trained with BC, and the checkpoint evaluated on placements it never saw."""
    from geometry_msgs.msg import PoseStamped
    from polyarm_learning.evaluate import main as evaluate
    from polyarm_learning.train import main as train

    start_node("sim", "--robot", "panda", "--no-camera", "--task", "reach", "--ros-args", "-p", "use_sim_time:=true")
    start_node("controller", "--robot", "panda", "--ros-args", "-p", "use_sim_time:=true")  # as `polyarm up` runs it in sim
    poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
    goals = Collector(node, PoseStamped, "sim/object_pose", STATE)
    spin_until(node, lambda: len(poses.messages) > 20 and goals.messages, 60, "ee_pose and sim/object_pose")
    typing, terminal = os.openpty()
    log = open(tmp_path / "teleop.log", "w")
    teleop = start_polyarm("teleop", "--robot", "panda", "--device", "keyboard", "--record", str(tmp_path / "demos"),
                           "--task", "reach", "--ros-args", "-p", "use_sim_time:=true",
                           stdin=terminal, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    targets = Collector(node, PoseStamped, "controller/target_pose", STATE)
    operator = ReachOperator(node, typing, poses, goals, targets)
    demonstrations = 15
    try:
        spin_until(node, lambda: len(targets.messages) > 5, 60, "the teleop's targets")
        misses = []
        for episode in range(demonstrations):
            operator.reset()  # to seed = the next episode's number; the target restarts from the arm
            operator.tap("b")
            left = operator.reach()
            operator.tap("y" if left < 0.025 else "n")
            if left >= 0.025:
                misses.append((episode, left))
        assert not misses, f"the operator missed the goal (episode, metres left): {misses}"
        operator.reset()
        start = conv.pose_arrays(poses.last)[0]
        operator.tap("b")  # a failure: +x for 1.5 s at 0.1 m/s (of the sim's time: less where it runs slow)
        operator.hold("w", 1.5)
        spin_for(node, 1.5)
        moved = conv.pose_arrays(poses.last)[0] - start
        operator.tap("n")
        assert 0.05 < moved[0] < 0.2 and abs(moved[1]) < 0.015 and abs(moved[2]) < 0.015, moved
        operator.tap("b")
        operator.hold("a", 0.5)
        operator.tap("x")  # discarded: its number is free again
        operator.tap("q", settle=0.0)
        assert teleop.wait(20) == 0, (tmp_path / "teleop.log").read_text()
    finally:
        if teleop.poll() is None:
            teleop.kill()
        os.close(typing)
        os.close(terminal)
    episodes = sorted(p.name for p in (tmp_path / "demos").iterdir())
    assert episodes == [f"episode_{i:04d}" for i in range(demonstrations + 1)], episodes
    infos = [json.loads((tmp_path / "demos" / e / "episode.json").read_text()) for e in episodes]
    assert [i["label"] for i in infos] == ["success"] * demonstrations + ["failure"]
    assert [i["seed"] for i in infos] == list(range(demonstrations + 1)), "each episode stores its placement's seed"
    assert infos[0]["counts"]["joint_states"] > 100 and infos[0]["counts"]["controller/target_pose"] > 20, infos[0]
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "convert", str(tmp_path / "demos"), "--out",
                           str(tmp_path / "dataset"), "--image-size", "0", "--label", "success", "--no-progress"],
                          capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert f"{demonstrations} episodes ({demonstrations} success), {demonstrations} reach the success detector" \
        in done.stdout, done.stdout
    run = tmp_path / "run"
    assert train(["--algo", "bc", "--dataset", str(tmp_path / "dataset"), "--out", str(run), "--steps", "3000",
                  "--batch-size", "64", "--eval-episodes", "0", "--no-progress"]) == 0
    capsys.readouterr()
    # on placements the demonstrations never saw (they used the seeds up to `demonstrations`)
    assert evaluate(["--checkpoint", str(run / "last.pt"), "--task", "reach", "--episodes", "20", "--seed", "1000"]) == 0
    printed = capsys.readouterr().out
    successes = int(re.search(r"success (\d+)/20", printed).group(1))
    print(f"BC on {demonstrations} keyboard demonstrations: {successes}/20 on unseen placements")
    assert successes >= 16, printed


def test_replay_plays_a_collected_episode_through_the_graph_to_success(node, start_node, tmp_path):
    from sim_bridge.collect import main as collect

    assert collect(["--robot", "panda", "--task", "reach", "--episodes", "1", "--seed", "3", "--out",
                    str(tmp_path / "data"), "--image-size", "0"]) == 0
    start_node("sim", "--robot", "panda", "--no-camera", "--task", "reach", "--ros-args", "-p", "use_sim_time:=true")
    start_node("controller", "--robot", "panda", "--ros-args", "-p", "use_sim_time:=true")  # as `polyarm up` runs it in sim
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "replay", str(tmp_path / "data"), "--episode", "0",
                           "--seed", "3"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "pacing on the sim's /clock" in done.stdout and "the sim's success detector fired at step" in done.stdout, done.stdout
    missing = subprocess.run([sys.executable, "-m", "polyarm.cli", "replay", str(tmp_path / "data"), "--episode", "5"],
                             capture_output=True, text=True, timeout=60, cwd=REPO)
    assert missing.returncode == 2 and "has episodes 0..0, not 5" in missing.stderr
