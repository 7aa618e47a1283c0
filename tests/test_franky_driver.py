"""The Franka Panda driver over franky-control, against franky-sim (libfranka's own network protocol,
served by franky-sim's MuJoCo Panda) in its own process. franky-sim runs slower than real time here:
waits are in the robot's time where it matters."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from driver_conformance import check_the_driver
from polyarm_core.registry import factory
from polyarm_description import get_robot

FRANKY_SIM = Path(sys.executable).with_name("franky-sim")
pytestmark = pytest.mark.skipif(not FRANKY_SIM.exists(), reason="franky-sim is not installed (requirements/base.txt)")


def start_franky_sim(log_path: Path) -> tuple[subprocess.Popen, str]:
    """franky-sim on an address of its own in 127.0.0.0/8, so parallel runs never meet; ready when it says so."""
    host = f"127.0.{random.SystemRandom().randint(1, 250)}.{random.SystemRandom().randint(2, 250)}"
    log = open(log_path, "w")
    proc = subprocess.Popen([str(FRANKY_SIM), "-s", "mujoco", "--hostname", host], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while "Connect to the server" not in log_path.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)
    return proc, host


@pytest.fixture
def franky_sim(tmp_path):
    proc, host = start_franky_sim(tmp_path / "franky_sim.log")
    yield host, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def franky(franky_sim):
    host, _ = franky_sim
    driver = factory("driver", "franky")(get_robot("panda"), host=host, realtime="ignore")
    driver.connect()
    yield driver
    driver.close()


def test_the_franky_driver_conforms_through_its_interface(franky):
    check_the_driver(franky)


def test_a_stale_torque_stream_stops_the_arm_and_says_why_and_commands_resume_after(franky):
    import numpy as np

    robot = franky.robot
    franky.write(robot.arm_joints, np.zeros(7))
    time.sleep(0.5)  # no more torques: franky's 50 ms watchdog ends the motion
    franky.read()
    assert franky.motions_stopped == 1 and "TorqueSignalTimeoutException" in franky.last_error
    start = franky.read().position[0]
    for _ in range(30):
        franky.write(robot.arm_joints, np.eye(7)[0] * 2.0)
        time.sleep(0.01)
    assert abs(franky.read().position[0] - start) > 0.01, "a new command stream moves the arm again"
    franky.stop()


def test_an_unreachable_robot_is_named():
    from polyarm_core.driver import DriverError

    driver = factory("driver", "franky")(get_robot("panda"), host="127.0.0.254", realtime="ignore")
    with pytest.raises(DriverError, match="cannot reach the robot at 127.0.0.254"):
        driver.connect()


def test_the_franky_driver_is_for_the_panda_only():
    with pytest.raises(ValueError, match="drives a Franka Panda, not the xarm7"):
        factory("driver", "franky")(get_robot("xarm7"), host="127.0.0.1")


@pytest.mark.ros
def test_the_franky_driver_node_conforms(franky_sim, node, start_node):
    from driver_conformance import check_the_driver_node

    host, _ = franky_sim
    check_the_driver_node(node, start_node, "panda", "--backend", "franky", "--host", host, "--realtime", "ignore")


@pytest.mark.ros
def test_losing_the_robot_ends_the_driver_node_with_the_reason(franky_sim, node, tmp_path):
    from conftest import Collector, spin_until
    from polyarm_common.qos import STATE
    from sensor_msgs.msg import JointState

    host, sim = franky_sim
    states = Collector(node, JointState, "joint_states", STATE)
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "polyarm.cli", "driver", "--robot", "panda", "--backend", "franky",
                                   "--host", host, "--realtime", "ignore"], stdout=out, stderr=subprocess.STDOUT)
    try:
        spin_until(node, lambda: len(states.messages) > 10, 60, "joint_states")
        sim.kill()  # the robot's controller dies mid-stream
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    text = log.read_text()
    assert driver.returncode == 1, text
    assert "lost the connection to the robot" in text and "Traceback" not in text, text


def test_an_unreachable_robot_ends_the_node_with_a_clear_message():
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "driver", "--robot", "panda", "--backend", "franky",
                           "--host", "127.0.0.254", "--realtime", "ignore"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "cannot reach the robot at 127.0.0.254" in done.stderr, done.stderr


@pytest.mark.ros
def test_polyarm_up_runs_the_graph_on_the_franky_driver_and_the_arm_answers_a_target(franky_sim, node, tmp_path):
    import numpy as np
    from conftest import Collector, spin_for, spin_until
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.qos import COMMAND, STATE

    host, _ = franky_sim
    log = open(tmp_path / "up.log", "w")
    up = subprocess.Popen([sys.executable, "-m", "polyarm.cli", "up", "--robot", "panda", "--sim", "none", "--driver", "franky",
                           "--robot-ip", host, "--realtime", "ignore", "--log-dir", str(tmp_path / "logs")],
                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
        spin_until(node, lambda: len(poses.messages) > 50, 90, "ee_pose from the controller over the franky driver")
        start, quaternion = conv.pose_arrays(poses.last)
        goal = start + np.array([0.05, 0.0, -0.03])
        targets = node.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
        deadline = time.monotonic() + 8.0  # franky-sim runs at 60-90% of real time here
        while time.monotonic() < deadline:
            targets.publish(conv.pose_stamped(goal, quaternion, "base_link", node.get_clock().now().to_msg()))
            spin_for(node, 0.1)
        reached = np.array([conv.pose_arrays(m)[0] for m in poses.messages[-100:]])  # the last second
        centre = np.linalg.norm(reached.mean(axis=0) - goal)
        print(f"franky-sim: the TCP's mean over the last second {1e3 * centre:.1f} mm from the goal, "
              f"swinging over {1e3 * np.ptp(np.linalg.norm(reached - goal, axis=1)):.1f} mm")
        # What holds: the whole graph runs on the franky driver, the arm answers the target (x, the axis with
        # the longest move, advances) and stays inside the workspace box, and the graph stops cleanly. What
        # does not yet: settling on the goal. Path (a) (the 100 Hz torque held between updates) leaves a
        # limit cycle on franky-sim: its mean 1.6-2.3 mm from the goal in some runs, 29-35 mm in others (z
        # not followed); the in-driver loop (path b) is issue 21's open part, so this is printed, not asserted
        panda = get_robot("panda")
        assert reached[:, 0].mean() - start[0] > 0.03, f"the TCP did not follow the target: {reached[-1]}, goal {goal}"
        assert np.all(reached >= np.array(panda.workspace_low) - 0.01) and np.all(reached <= np.array(panda.workspace_high) + 0.01)
    finally:
        up.send_signal(signal.SIGINT)
        code = up.wait(30)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()
