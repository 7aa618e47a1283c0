"""The `polyarm` entry point and the demo."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def polyarm(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "polyarm.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_commands_and_unknown_commands_are_refused():
    done = polyarm("--help")
    assert done.returncode == 0 and all(c in done.stdout for c in ("sim", "monitor", "demo"))
    done = polyarm("teleport")
    assert done.returncode == 2 and "valid commands: sim, driver, fake-robot, camera, perception, calibrate, controller, collect, dataset, policy, train, compare, evaluate, export, up, eval, record, teleop, convert, replay, monitor, demo" in done.stderr


def test_fake_robot_help_lists_every_fault_a_fake_takes():
    from polyarm_fakes.faults import BUS_FAULTS, XARM_FAULTS

    done = polyarm("fake-robot", "--help")
    assert done.returncode == 0
    for fault in (XARM_FAULTS + " | " + BUS_FAULTS).split(" | "):
        assert f"\n  {fault}" in done.stdout, f"{fault!r} is not in `polyarm fake-robot --help`"


@pytest.mark.ros
def test_demo_runs_the_shipped_checkpoint_through_ros_and_in_process(tmp_path):
    done = polyarm("demo", "--episodes", "2", "--out", str(tmp_path / "demo"), timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    # the demo checkpoint presses the button from images, through ROS and in-process. Through ROS one
    # miss in two is allowed. On the wall clock, starved CI machines (sim real-time factor 0.36-0.7)
    # twice missed both: observations aged past the policy's limit. The graph now runs on the sim's
    # clock, where one busy core (real-time factor 0.2) still gave 3 of 3. The ROS-vs-in-process rate
    # over 20 episodes is `make demo`'s and bench_graph's to measure
    assert re.search(r"success through ROS (50|100)%, in-process 100%", done.stdout), done.stdout
    assert (tmp_path / "demo" / "bag" / "metadata.yaml").exists()
