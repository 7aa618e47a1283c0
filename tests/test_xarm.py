"""The xArm 7 over UFACTORY's protocol: the unmodified xarm-python-sdk against polyarm's simulated controller
(polyarm_fakes.xarm_controller: TCP 502 and the report streams, the MuJoCo xArm 7 behind them), and the driver
over both. The SDK dials port 502, which needs root: each fake serves it on a loopback address of its own."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import can_serve_port, private_loopback, start_fake_robot
from driver_conformance import check_the_driver
from polyarm_common.processes import stop
from polyarm_core.driver import CommandRefused, DriverError
from polyarm_core.registry import factory
from polyarm_description import get_robot

xarm = pytest.importorskip("xarm")
pytestmark = [pytest.mark.robot_sim,
              pytest.mark.skipif(not can_serve_port(502), reason="the SDK dials port 502, which needs root here")]


@pytest.fixture
def fake_xarm():
    """A simulated controller served in this process: (server, host)."""
    from polyarm_fakes.xarm_controller import XArmControllerServer

    host = private_loopback()
    server = XArmControllerServer(get_robot("xarm7"), host)
    server.start()
    yield server, host
    server.close()


@pytest.fixture
def sdk(fake_xarm):
    from xarm.wrapper import XArmAPI

    server, host = fake_xarm
    arm = XArmAPI(host, is_radian=True, do_not_open=True, report_type="real", forbid_uds=True)
    arm.connect()
    yield server.firmware, arm
    disconnect(arm)


def disconnect(arm) -> None:
    """Disconnect an SDK client and wait for its report thread to end (it logs on its way out, and must not
    outlive the test that made it)."""
    arm.disconnect()
    thread = getattr(arm._arm, "_report_thread", None)
    if thread is not None:
        thread.join(timeout=3.0)


def wait_for(condition, timeout: float = 3.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_the_sdk_connects_reads_the_arm_and_nothing_moves_before_enable_and_state_0(sdk):
    fw, arm = sdk
    assert arm.connected and arm.version_number == (2, 5, 0) and arm.axis == 7
    wait_for(lambda: arm.state == 4, what="the report says stopped at power-on")
    code, angles = arm.get_servo_angle(is_radian=True)
    assert code == 0 and np.abs(np.array(angles[:7]) - fw.q).max() < 1e-4
    assert np.abs(np.array(arm.angles[:7]) - fw.q).max() < 1e-4, "the real-time report's angles are the arm's"
    code, pose = arm.get_position(is_radian=True)
    assert code == 0 and np.abs(np.array(pose[:3]) - fw.tcp_pose()[:3]).max() < 0.1  # mm
    start = fw.q.copy()
    assert arm.set_servo_angle_j(list(start + [0.02, 0, 0, 0, 0, 0, 0]), is_radian=True) != 0, "not ready: refused"
    time.sleep(0.3)
    assert np.abs(fw.q - start).max() < 1e-3, "nothing moves before motion_enable and set_state(0)"
    assert (arm.motion_enable(True), arm.set_mode(1), arm.set_state(0)) == (0, 0, 0)
    wait_for(lambda: arm.mode == 1 and arm.state in (1, 2), what="servo mode, ready")
    for i in range(1, 31):
        assert arm.set_servo_angle_j(list(start + [0.01 * i, 0, 0, 0, 0, 0, 0]), is_radian=True) == 0
        time.sleep(0.01)
    wait_for(lambda: abs(fw.q[0] - start[0] - 0.3) < 2e-3, what=f"joint 1 at {fw.q[0] - start[0]:.4f} of 0.3 rad")
    time.sleep(0.2)
    assert np.abs(np.array(arm.angles[:7]) - fw.q).max() < 1e-4, "angles read back by the SDK match the MuJoCo arm"


def test_set_servo_angle_in_position_mode_moves_there_at_the_speed_asked(sdk):
    fw, arm = sdk
    assert (arm.motion_enable(True), arm.set_mode(0), arm.set_state(0)) == (0, 0, 0)
    goal = fw.q + np.array([0.4, -0.2, 0.0, 0.3, 0.0, 0.0, 0.5])
    t0 = time.monotonic()
    assert arm.set_servo_angle(angle=list(goal), speed=1.0, mvacc=10.0, wait=True, is_radian=True) == 0
    took = time.monotonic() - t0
    time.sleep(0.3)
    assert np.abs(fw.q - goal).max() < 2e-3, fw.q - goal
    assert 0.5 < took < 1.5, f"0.5 rad at 1 rad/s and 10 rad/s^2 takes 0.6 s; it took {took:.2f} s"


def test_a_servo_jump_raises_error_24_stops_the_arm_and_needs_clearing(sdk):
    fw, arm = sdk
    arm.motion_enable(True), arm.set_mode(1), arm.set_state(0)
    wait_for(lambda: arm.mode == 1 and arm.state in (1, 2))
    here = fw.q.copy()
    assert arm.set_servo_angle_j(list(here + [0.5, 0, 0, 0, 0, 0, 0]), is_radian=True) != 0, "its reply says error"
    code, (error, warning) = arm.get_err_warn_code()
    assert code == 0 and error == 24, "Speed Exceeds Limit"
    assert arm.set_servo_angle_j(list(here + [0.01, 0, 0, 0, 0, 0, 0]), is_radian=True) != 0, "refused while it stands"
    time.sleep(0.3)
    assert np.abs(fw.q - here).max() < 2e-3, "the arm stayed where it was"
    assert arm.clean_error() == 0 and arm.get_err_warn_code()[1][0] == 0
    assert arm.set_servo_angle_j(list(here + [0.01, 0, 0, 0, 0, 0, 0]), is_radian=True) != 0, "stopped until state 0"
    assert (arm.motion_enable(True), arm.set_mode(1), arm.set_state(0)) == (0, 0, 0)
    assert arm.set_servo_angle_j(list(here + [0.01, 0, 0, 0, 0, 0, 0]), is_radian=True) == 0


def test_the_gripper_goes_to_a_position_in_pulses_and_reads_it_back(sdk):
    fw, arm = sdk
    assert arm.set_gripper_mode(0) == 0 and arm.set_gripper_enable(True) == 0
    for pulses in (200, 800):
        assert arm.set_gripper_position(pulses, wait=False) == 0
        wait_for(lambda: abs(arm.get_gripper_position()[1] - pulses) < 15, 5.0, f"gripper at {pulses} pulses")


def test_the_sdk_parses_the_rich_report_state_errors_and_motor_bits(fake_xarm):
    """report_type="rich" (30002, 5 Hz): the SDK's own parser takes the state, the error code and the motors'
    brake and enable bits from it (it drops a stream whose frame does not parse)."""
    from xarm.wrapper import XArmAPI

    server, host = fake_xarm
    arm = XArmAPI(host, is_radian=True, do_not_open=True, report_type="rich", forbid_uds=True)
    arm.connect()
    try:
        wait_for(lambda: arm.state == 4 and arm.motor_enable_states[:7] == [0] * 7, what="power-on: stopped, motors off")
        assert arm.motion_enable(True) == 0 and arm.set_state(0) == 0
        wait_for(lambda: arm.state == 2 and arm.motor_enable_states[:7] == [1] * 7, what="ready, motors on")
        with server.firmware.lock:
            server.firmware.raise_error(31)
        wait_for(lambda: arm.error_code == 31 and arm.state == 4, what="error 31 from the report alone")
        assert np.abs(np.array(arm.angles[:7]) - server.firmware.q).max() < 1e-4
    finally:
        disconnect(arm)


@pytest.fixture
def xarm_driver(fake_xarm):
    server, host = fake_xarm
    driver = factory("driver", "xarm").create(get_robot("xarm7"), host=host)
    driver.connect()
    yield server.firmware, driver
    driver.close()


def test_the_xarm_driver_conforms_through_its_interface(xarm_driver):
    check_the_driver(xarm_driver[1])


def test_a_jump_is_named_with_its_code_and_recover_brings_servo_mode_back(xarm_driver):
    fw, driver = xarm_driver
    robot = driver.robot
    here = driver.read().position[:robot.dof]
    with pytest.raises(CommandRefused, match="24: Speed Exceeds Limit"):
        driver.write(robot.arm_joints, here + np.eye(robot.dof)[0] * 0.5)
    time.sleep(0.6)
    assert "error 24: Speed Exceeds Limit" in driver.diagnostics()["error"]
    assert np.abs(driver.read().position[:robot.dof] - here).max() < 2e-3, "the arm stayed where it was"
    assert driver.recover().startswith("recovered from error 24")
    for i in range(1, 21):
        driver.write(robot.arm_joints, here + np.eye(robot.dof)[0] * 0.005 * i)
        time.sleep(0.01)
    wait_for(lambda: abs(driver.read().position[0] - here[0] - 0.1) < 3e-3, what="servo mode again after recover")


def test_an_unreachable_controller_and_an_error_at_start_are_named(fake_xarm):
    robot = get_robot("xarm7")
    with pytest.raises(DriverError, match="cannot reach the xArm controller at 127.0.0.254"):
        factory("driver", "xarm").create(robot, host="127.0.0.254").connect()
    server, host = fake_xarm
    with server.firmware.lock:
        server.firmware.raise_error(31)
    with pytest.raises(DriverError, match="error 31: Collision Caused Abnormal Current"):
        factory("driver", "xarm").create(robot, host=host).connect()


@pytest.fixture
def fake_xarm_process(tmp_path):
    """`polyarm fake-robot --robot xarm7 --host HOST` in its own process: (host, process)."""
    host = private_loopback()
    proc = start_fake_robot(tmp_path / "fake_xarm.log", "xarm7", "--host", host, ready="xArm controller for the xarm7")
    yield host, proc
    stop(proc)


@pytest.mark.ros
def test_the_xarm_driver_node_conforms_against_polyarm_fake_robot(fake_xarm_process, node, start_node):
    from driver_conformance import check_the_driver_node

    host, _ = fake_xarm_process
    check_the_driver_node(node, start_node, "xarm7", "--backend", "xarm", "--host", host)


@pytest.mark.ros
def test_polyarm_up_on_the_fake_xarm_steps_holds_on_estop_recovers_and_stops_when_the_controller_dies(
        fake_xarm_process, node, tmp_path):
    """`polyarm up --robot xarm7 --sim none --driver xarm`: a 5 cm + 15 degree step settles within 3 mm and 1
    degree in 1.5 s; on e-stop the arm holds; a servo jump raises the firmware's error 24, named in
    /diagnostics, and driver/recover brings tracking back; so do the fake's faults (a collision, the e-stop,
    any controller error); a network link lost mid-motion ends the driver with the lost connection named,
    and polyarm up stops the graph."""
    import signal
    import subprocess
    import sys

    from conftest import Collector, spin_for, spin_until
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.qos import COMMAND, STATE
    from polyarm_core.rotations import angle_between, matrix_to_quat, quat_to_matrix
    from real_arm_graph import hold_target, trigger
    from sensor_msgs.msg import JointState

    host, fake = fake_xarm_process
    log_path = tmp_path / "up.log"
    up = subprocess.Popen([sys.executable, "-m", "polyarm.cli", "up", "--robot", "xarm7", "--sim", "none", "--driver",
                           "xarm", "--robot-ip", host, "--log-dir", str(tmp_path / "logs")],
                          stdout=open(log_path, "w"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
        spin_until(node, lambda: len(poses.messages) > 50, 90, "ee_pose over the xArm driver")
        spin_for(node, 1.0)
        start, quaternion = conv.pose_arrays(poses.last)
        a = np.radians(15.0)
        yaw = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
        goal_R = yaw @ quat_to_matrix(quaternion)
        goal = start + np.array([0.05, 0.0, 0.0])
        targets = node.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
        hold_target(node, targets, goal, matrix_to_quat(goal_R), 1.5)  # the fake runs in real time
        position, reached = conv.pose_arrays(poses.last)
        error_mm = 1e3 * np.linalg.norm(position - goal)
        error_deg = np.degrees(angle_between(goal_R, quat_to_matrix(reached)))
        print(f"xarm7 over the fake controller: {error_mm:.2f} mm, {error_deg:.2f} deg from a 5 cm + 15 deg step "
              "at 1.5 s")
        assert error_mm < 3.0 and error_deg < 1.0, (error_mm, error_deg)

        assert trigger(node, "controller/stop").success
        moving_to = start - np.array([0.0, 0.05, 0.0])
        hold_target(node, targets, moving_to, quaternion, 0.5)  # refused while stopped
        held = conv.pose_arrays(poses.last)[0]
        spin_for(node, 0.5)
        assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - held) < 1e-3, "e-stop: the arm holds"
        assert np.linalg.norm(held - goal) < 5e-3, "and it held where it was, not at the new target"
        assert trigger(node, "controller/resume").success

        # a servo jump the firmware refuses: error 24 named in /diagnostics, then driver/recover, and tracking again
        states = Collector(node, JointState, "joint_states", STATE)
        diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
        spin_until(node, lambda: states.last is not None, 30, "joint_states")  # a new subscription: discovery first
        robot = get_robot("xarm7")
        jump = np.array(states.last.position[:robot.dof]) + np.eye(robot.dof)[0] * 0.5
        commands = node.create_publisher(JointState, "joint_commands", COMMAND)
        spin_until(node, lambda: commands.get_subscription_count() > 0, 10, "the driver's joint_commands subscription")

        def reported(text):
            return any(text in v.value for m in diagnostics.messages for st in m.status for v in st.values)

        deadline = time.monotonic() + 10
        while not reported("error 24: Speed Exceeds Limit"):  # sent again while unseen: a first message can be lost
            assert time.monotonic() < deadline, "error 24 in /diagnostics"
            commands.publish(JointState(name=list(robot.arm_joints), position=jump.tolist()))
            spin_for(node, 0.5)
        recovered = trigger(node, "driver/recover")
        assert recovered.success and "error 24" in recovered.message, recovered.message
        hold_target(node, targets, goal, quaternion, 1.5)
        assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - goal) < 3e-3, "tracking again after driver/recover"

        # the fake's faults, as a lab meets them: each named in /diagnostics, the arm standing, driver/recover
        faults = (("collision", "error 31: Collision Caused Abnormal Current"),
                  ("estop", "error 1: The Emergency Stop Button"), ("error 22", "error 22: Self-Collision Error"))
        for (fault, named), after in zip(faults, (goal + [0.0, 0.02, 0.0], goal, goal + [0.0, 0.02, 0.0])):
            fake.stdin.write(f"{fault}\n")
            fake.stdin.flush()
            deadline = time.monotonic() + 10
            while not reported(named):
                assert time.monotonic() < deadline, f"{fault}: {named} in /diagnostics"
                spin_for(node, 0.2)
            stopped_at = conv.pose_arrays(poses.last)[0]
            spin_for(node, 0.5)
            assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - stopped_at) < 1e-3, f"{fault}: the arm stands"
            recovered = trigger(node, "driver/recover")
            assert recovered.success and named.split(":")[0] in recovered.message, recovered.message
            hold_target(node, targets, after, quaternion, 1.5)
            assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - after) < 3e-3, f"tracking again after {fault}"

        mid = len(poses.messages)
        hold_target(node, targets, start, quaternion, 0.3)  # moving back ...
        assert len(poses.messages) > mid
        fake.stdin.write("link down\n")  # ... when the network link is lost
        fake.stdin.flush()
        assert up.wait(60) != 0, "the graph ends, and says it failed"
        assert "lost the connection to the xArm controller" in log_path.read_text()
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGINT)
            up.wait(30)
    logs = log_path.read_text() + "".join(p.read_text() for p in (tmp_path / "logs").glob("*.log"))
    assert f"lost the connection to the xArm controller at {host}" in logs, logs[-3000:]


@pytest.mark.ros
def test_when_the_driver_dies_mid_motion_the_arm_holds_its_last_target(fake_xarm_process, node, tmp_path):
    """The driver node killed while a command stream moves the arm: joint_states stop, and the firmware holds
    the last servo target (seen through a second SDK client, as UFACTORY Studio would see it)."""
    import subprocess

    from conftest import Collector, spin_for, spin_until
    from polyarm_common.processes import start_polyarm
    from polyarm_common.qos import COMMAND, STATE
    from sensor_msgs.msg import JointState
    from xarm.wrapper import XArmAPI

    host, _ = fake_xarm_process
    robot = get_robot("xarm7")
    states = Collector(node, JointState, "joint_states", STATE)
    log_path = tmp_path / "driver.log"
    driver = start_polyarm("driver", "--robot", "xarm7", "--backend", "xarm", "--host", host,
                           stdout=open(log_path, "w"), stderr=subprocess.STDOUT)
    spin_until(node, lambda: len(states.messages) > 20, 60, f"joint_states ({log_path.read_text()})")
    observer = XArmAPI(host, is_radian=True, do_not_open=True, report_type="real", forbid_uds=True)
    observer.connect()
    try:
        commands = node.create_publisher(JointState, "joint_commands", COMMAND)
        spin_until(node, lambda: commands.get_subscription_count() > 0, 10, "the driver's joint_commands subscription")
        start = np.array(states.last.position[:robot.dof])
        for i in range(1, 41):  # joint 1 at 1 rad/s
            target = start + np.eye(robot.dof)[0] * 0.01 * i
            commands.publish(JointState(name=list(robot.arm_joints), position=target.tolist()))
            spin_for(node, 0.01)
        assert abs(observer.angles[0] - start[0]) > 0.1, "the arm is moving"
        driver.kill()  # no goodbye: as a crash or a pulled cable would leave it
        driver.wait(10)
        time.sleep(0.3)
        held = np.array(observer.angles[:7])
        time.sleep(1.0)
        assert np.abs(np.array(observer.angles[:7]) - held).max() < 1e-3, "the arm holds still without its driver"
        assert abs(held[0] - start[0] - 0.4) < 0.05, "at the last target it was given"
    finally:
        disconnect(observer)
        if driver.poll() is None:
            driver.kill()


def test_bad_commands_get_the_firmwares_answers_and_the_arm_stops(sdk):
    """Beyond a joint limit: error 23; out of reach: error 21; too fast: warning 12; another mode's command:
    invalid; while an error stands: refused until clean_error. Codes from the SDK's own tables."""
    fw, arm = sdk
    assert (arm.motion_enable(True), arm.set_mode(0), arm.set_state(0)) == (0, 0, 0)
    wait_for(lambda: arm.state in (1, 2), what="position mode, ready")
    arm.set_servo_angle(angle=[0, 0, 0, 0, 0, 0, 0], speed=1.0, wait=True, is_radian=True)
    assert np.abs(fw.q).max() < 2e-3, "move to the zero pose with wait=True: there when it returns"

    assert arm.set_servo_angle_j([0.01, 0, 0, 0, 0, 0, 0], is_radian=True) == 10, "servo_j in mode 0: invalid"
    # the SDK clamps speeds to the limit the controller reports; a raw client (or another SDK) need not
    assert arm._arm.arm_cmd.move_joint([0, 0, 0, 0, 0, 0, 0.1], 3.5, 10.0, 0.0)[0] == 2, "too fast: a warning"
    assert arm.get_err_warn_code()[1] == [0, 12] and fw.state == 2, "warning 12, the command dropped"
    arm.clean_warn()

    code = arm.set_position(x=1500, y=0, z=200, roll=180, pitch=0, yaw=0, speed=100, wait=True)
    assert code != 0 and fw.error_code == 21 and fw.state == 4, "out of reach: error 21, stopped"
    assert arm.set_servo_angle(angle=[0.1, 0, 0, 0, 0, 0, 0], speed=0.5, is_radian=True) != 0, "refused while in error"
    assert arm.clean_error() == 0 and arm.motion_enable(True) == 0 and arm.set_state(0) == 0
    wait_for(lambda: fw.state in (1, 2), what="ready again")

    arm._arm._check_joint_limit = False  # as a client without the SDK's own limit check sends it
    arm.set_servo_angle(angle=[0, 2.5, 0, 0, 0, 0, 0], speed=0.5, is_radian=True)
    wait_for(lambda: fw.error_code == 23 and fw.state == 4, what="beyond joint 2's limit: error 23, stopped")
    assert arm.clean_error() == 0 and arm.motion_enable(True) == 0 and arm.set_state(0) == 0

    before = np.array(fw.tcp_pose()[:3])
    assert arm.set_position(x=10, y=0, z=-20, relative=True, speed=50, wait=True) == 0 and fw.error_code == 0
    assert np.abs(np.array(fw.tcp_pose()[:3]) - before - [10, 0, -20]).max() < 1.0, "a relative line, within 1 mm"


def test_a_second_fake_on_a_served_address_says_why_in_one_line(tmp_path):
    import subprocess
    import sys

    host = private_loopback()
    first = start_fake_robot(tmp_path / "first.log", "xarm7", "--host", host, ready="xArm controller for the xarm7")
    try:
        second = subprocess.run([sys.executable, "-m", "polyarm.cli", "fake-robot", "--robot", "xarm7", "--host", host],
                                capture_output=True, text=True, timeout=60)
    finally:
        stop(first)
    assert second.returncode == 2, second
    assert second.stderr.strip().splitlines() == [f"polyarm fake-robot: {host}:502 is already served (another polyarm "
                                                  "fake-robot, or an xArm controller on this host, holds it: "
                                                  "`ss -ltnp 'sport = 502'` names it)"], second.stderr
