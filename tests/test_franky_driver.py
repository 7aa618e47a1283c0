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


class StepLog:
    """The in-driver controller's every tick, in the robot's time."""

    def __init__(self, law):
        self.ticks = []
        law.on_tick = lambda out, now, compute_s: self.ticks.append((now, out))

    def wait_until(self, robot_time: float, wall_limit: float = 60.0) -> None:
        deadline = time.monotonic() + wall_limit
        while not self.ticks or self.ticks[-1][0] < robot_time:
            assert time.monotonic() < deadline, f"the robot's clock stopped at {self.ticks[-1][0] if self.ticks else None}"
            time.sleep(0.02)

    def at(self, robot_time: float):
        return next(out for now, out in self.ticks if now >= robot_time)


def rotation_z(degrees: float):
    import numpy as np

    a = np.radians(degrees)
    return np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])


def test_the_in_driver_controller_settles_a_5cm_15deg_step_within_1_5_s_of_robot_time(franky):
    """Torque path (b): the OSC law in franky's 1 kHz loop, on the state of each millisecond."""
    import numpy as np
    from polyarm_control.loop import InDriverController
    from polyarm_core.rotations import angle_between

    law = InDriverController(franky)
    log = StepLog(law)
    law.start()
    log.wait_until(log.ticks[-1][0] + 0.3 if log.ticks else 0.3)
    start = log.ticks[-1][1].measured
    goal_p, goal_R = start.tcp_position + [0.05, 0.0, 0.0], rotation_z(15.0) @ start.tcp_rotation
    law.set_target(goal_p, goal_R)
    t_step = law.now
    log.wait_until(t_step + 1.5)
    settled = log.at(t_step + 1.5).measured
    error_mm = 1e3 * np.linalg.norm(settled.tcp_position - goal_p)
    error_deg = np.degrees(angle_between(goal_R, settled.tcp_rotation))
    overshoot_mm = 1e3 * max(out.measured.tcp_position[0] - goal_p[0] for now, out in log.ticks if now > t_step)
    print(f"in-driver step on franky-sim: {error_mm:.2f} mm, {error_deg:.2f} deg at 1.5 s; overshoot {overshoot_mm:.2f} mm")
    assert error_mm < 3.0 and error_deg < 1.0, (error_mm, error_deg)
    assert franky.motions_stopped == 0, franky.last_error


def test_the_in_driver_controller_holds_on_estop_refuses_nan_and_resumes(franky):
    import numpy as np
    from polyarm_control.loop import InDriverController
    from polyarm_control.reference import TargetError

    law = InDriverController(franky)
    log = StepLog(law)
    law.start()
    log.wait_until(0.0)
    log.wait_until(log.ticks[-1][0] + 0.2)
    start = log.ticks[-1][1].measured
    with pytest.raises(TargetError, match="not finite"):
        law.set_target(start.tcp_position + [np.nan, 0.0, 0.0], start.tcp_rotation)
    law.set_target(start.tcp_position + [0.0, 0.1, 0.0], start.tcp_rotation)
    log.wait_until(law.now + 0.25)  # mid-move
    with law.lock:
        law.core.stop(law.now)
    t_stop = law.now
    log.wait_until(t_stop + 0.5)
    stopped = log.at(t_stop + 0.5)
    assert stopped.status.startswith("stopped") and np.abs(stopped.measured.qd).max() < 0.02, stopped.measured.qd
    position = stopped.measured.tcp_position
    log.wait_until(t_stop + 1.0)
    assert np.linalg.norm(log.ticks[-1][1].measured.tcp_position - position) < 2e-3, "it stays where it stopped"
    with pytest.raises(TargetError, match="stopped"):
        law.set_target(start.tcp_position, start.tcp_rotation)
    law.resume()
    law.set_target(start.tcp_position, start.tcp_rotation)
    log.wait_until(law.now + 1.5)
    back = 1e3 * np.linalg.norm(log.ticks[-1][1].measured.tcp_position - start.tcp_position)
    assert back < 3.0, f"after controller resume the arm tracks again: {back:.1f} mm from the target"


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
