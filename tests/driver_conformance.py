"""The driver conformance suite: what every RobotDriver must do, checked through the interface alone and
through the driver node. The MuJoCo arm runs it here (tests/test_driver_conformance.py); each real
driver's tests run the same functions against its SDK and the robot's protocol simulator.

Times are the robot's: `wait(s)` lets the robot's own time pass (wall time for a real-time robot).
"""

from __future__ import annotations

import math
import time

import numpy as np
from polyarm_core.driver import CommandRefused, JointReading, RobotDriver

SETTLE_S = 0.5
STILL = 0.003  # rad/s: a joint slower than this is at rest


def arm(reading: JointReading, robot) -> np.ndarray:
    return np.array([reading.position[reading.names.index(j)] for j in robot.arm_joints])


def arm_velocity(reading: JointReading, robot) -> np.ndarray:
    return np.array([reading.velocity[reading.names.index(j)] for j in robot.arm_joints])


def tolerance(driver: RobotDriver, rad: float) -> float:
    """`rad`, or two steps of the driver's position resolution where that is coarser (a Dynamixel's
    encoder: 2 pi / 4096 = 1.5 mrad, and a reading flickers by one step)."""
    return max(rad, 2.0 * getattr(driver, "position_resolution", 0.0))


def settle(driver: RobotDriver, timeout: float = 5.0) -> JointReading:
    """Wait until the arm has been at rest for 0.2 s (servos overshoot and return after a stop): its velocity
    below STILL and its position within 0.5 mrad of where the rest began (a Dynamixel reports velocity in
    0.024 rad/s steps: a slow creep reads as 0)."""
    deadline, still_since, rest = time.monotonic() + timeout, None, None
    while time.monotonic() < deadline:
        reading = driver.read()
        here = arm(reading, driver.robot)
        if np.abs(arm_velocity(reading, driver.robot)).max() < STILL and (rest is None or np.abs(here - rest).max() < tolerance(driver, 5e-4)):
            if still_since is None:
                still_since, rest = time.monotonic(), here
            if time.monotonic() - still_since > 0.2:
                return reading
        else:
            still_since, rest = None, None
        time.sleep(0.01)
    raise AssertionError(f"the arm did not come to rest within {timeout} s")


def stream(driver: RobotDriver, command: np.ndarray, seconds: float, rate_hz: float = 100.0) -> None:
    """Send `command` at the controller's rate for `seconds`, as the controller node does."""
    for _ in range(max(1, round(seconds * rate_hz))):
        driver.write(driver.robot.arm_joints, command)
        time.sleep(1.0 / rate_hz)


def position_step(robot) -> float:
    """How far a position command moves the first joint: 0.2 rad, or for an arm whose controller faults on
    a jump (a UFACTORY arm in servo mode: error 24 past its joint speed within a servo period) 0.04 rad."""
    return 0.04 if robot.xarm_controller else 0.2


def motion_command(driver: RobotDriver, start: np.ndarray) -> np.ndarray:
    """A small command that moves the first joint: a torque, or a target position_step away."""
    if driver.command_interface == "effort":
        return np.eye(driver.robot.dof)[0] * 4.0  # N m on the base joint (gravity compensated by the robot)
    return start + np.eye(driver.robot.dof)[0] * position_step(driver.robot)


def check_reading(driver: RobotDriver) -> JointReading:
    """The reading names the arm's joints then the fingers', with finite values and a stamp."""
    reading = driver.read()
    robot = driver.robot
    assert reading.names == tuple(robot.arm_joints) + tuple(robot.finger_joints)
    for values in (reading.position, reading.velocity, reading.effort):
        assert len(values) == len(reading.names) and np.all(np.isfinite(values))
    assert 0.0 <= reading.gripper_opening <= 1.05 and reading.stamp_ns > 0
    return reading


def check_a_command_moves_the_arm(driver: RobotDriver) -> None:
    start = arm(driver.read(), driver.robot)
    stream(driver, motion_command(driver, start), 0.3)
    moved = arm(driver.read(), driver.robot) - start
    assert abs(moved[0]) > 0.02, f"joint 1 moved {moved[0]:.4f} rad"
    driver.stop()


def check_bad_commands_are_refused_and_the_arm_holds(driver: RobotDriver) -> None:
    robot = driver.robot
    driver.stop()
    here = arm(settle(driver), robot)
    nan = here.copy()
    nan[0] = math.nan
    over = here + 100.0  # beyond every joint's position and torque limit
    for bad, why in ((nan, "not finite"), (over, "outside the limits"), (here[:-1], "joint names")):
        names = robot.arm_joints if len(bad) == robot.dof else robot.arm_joints[:-1]
        try:
            driver.write(names, bad)
        except CommandRefused as err:
            assert why in str(err) or "do not match" in str(err) or "values" in str(err), err
        else:
            raise AssertionError(f"{bad} was accepted")
    time.sleep(SETTLE_S)
    assert np.abs(arm(driver.read(), robot) - here).max() < tolerance(driver, 2e-3), "the arm moved after refused commands"


def check_a_stale_command_stream_holds_the_arm(driver: RobotDriver) -> None:
    robot = driver.robot
    start = arm(driver.read(), robot)
    stream(driver, motion_command(driver, start), 0.2)  # moving, then the stream stops
    a = settle(driver)
    time.sleep(SETTLE_S)
    b = driver.read()
    assert np.abs(arm(b, robot) - arm(a, robot)).max() < tolerance(driver, 2e-3), "the arm drifts without commands"
    assert np.abs(arm_velocity(b, robot)).max() < STILL


def check_the_gripper_closes_and_opens(driver: RobotDriver) -> None:
    for opening, done in ((0.0, lambda g: g < 0.1), (1.0, lambda g: g > 0.9)):
        driver.command_gripper(opening)
        deadline = time.monotonic() + 3.0
        while not done(driver.read().gripper_opening) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert done(driver.read().gripper_opening), f"gripper at {driver.read().gripper_opening:.2f}, asked {opening}"
    try:
        driver.command_gripper(math.nan)
    except CommandRefused:
        pass
    else:
        raise AssertionError("a NaN gripper command was accepted")


def check_stop_leaves_the_arm_still(driver: RobotDriver) -> None:
    robot = driver.robot
    start = arm(driver.read(), robot)
    stream(driver, motion_command(driver, start), 0.2)
    driver.stop()
    a = settle(driver)
    time.sleep(SETTLE_S)
    assert np.abs(arm(driver.read(), robot) - arm(a, robot)).max() < tolerance(driver, 1e-3)


INTERFACE_CHECKS = (check_a_command_moves_the_arm, check_bad_commands_are_refused_and_the_arm_holds,
                    check_a_stale_command_stream_holds_the_arm, check_the_gripper_closes_and_opens,
                    check_stop_leaves_the_arm_still)


def check_the_driver(driver: RobotDriver) -> None:
    """The whole suite through the RobotDriver interface, on a connected driver."""
    check_reading(driver)
    for check in INTERFACE_CHECKS:
        check(driver)


def check_the_driver_node(node, start_node, robot: str, *driver_args: str, resolution: float = 0.0) -> None:
    """`polyarm driver --robot ROBOT DRIVER_ARGS` in its own process, through its topics: joint_states rate and
    names, a command moves the arm, a NaN command is refused and the arm holds, the gripper closes, SIGINT
    exits cleanly. `node` is a test rclpy node, `start_node` the conftest fixture; `resolution` the driver's
    position step (rad), where it is coarse enough to matter."""
    from conftest import Collector, spin_for, spin_until
    from polyarm_common.qos import COMMAND, STATE
    from polyarm_description import get_robot
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64

    profile = get_robot(robot)
    states = Collector(node, JointState, "joint_states", STATE)
    driver = start_node("driver", "--robot", robot, *driver_args)
    spin_until(node, lambda: len(states.messages) > 20, 60, f"joint_states ({driver.log()})")
    states.clear()
    spin_for(node, 1.0)
    assert states.rate_hz() > 100, f"joint_states at {states.rate_hz():.0f} Hz"  # the contract: >= 100 Hz (200 asked)
    assert tuple(states.last.name) == profile.arm_joints + profile.finger_joints

    def arm():
        msg = states.last
        return np.array([msg.position[msg.name.index(j)] for j in profile.arm_joints])

    field = "position" if profile.command_interface == "position" else "effort"
    commands = node.create_publisher(JointState, "joint_commands", COMMAND)
    spin_until(node, lambda: commands.get_subscription_count() > 0, 30, "the driver's joint_commands subscription")
    start = arm()
    move = start + np.eye(profile.dof)[0] * position_step(profile) if field == "position" else np.eye(profile.dof)[0] * 4.0
    for _ in range(30):  # 0.3 s at the controller's rate
        commands.publish(JointState(name=list(profile.arm_joints), **{field: move.tolist()}))
        spin_for(node, 0.01)
    spin_for(node, 0.6)  # the stream stopped: an effort arm stops and holds, a servo holds its target
    assert abs(arm()[0] - start[0]) > 0.02

    still = max(2e-3, 2.0 * resolution)
    previous = arm()
    for _ in range(50):  # at rest: unchanged over 0.1 s
        spin_for(node, 0.1)
        if np.abs(arm() - previous).max() < still / 2:
            break
        previous = arm()
    here = arm()
    bad = here.copy()
    bad[0] = math.nan
    commands.publish(JointState(name=list(profile.arm_joints), **{field: bad.tolist()}))
    spin_for(node, 0.5)
    assert np.abs(arm() - here).max() < still, f"the arm moved after a refused command: {arm() - here}"
    spin_until(node, lambda: "joint_commands rejected" in driver.log() and "not finite" in driver.log(), 5, "the rejection")

    gripper = node.create_publisher(Float64, "gripper/command", COMMAND)
    finger = profile.finger_joints[0]
    closed = lambda: profile.gripper_opening(states.last.position[states.last.name.index(finger)]) < 0.1  # noqa: E731
    spin_until(node, lambda: gripper.publish(Float64(data=0.0)) or closed(), 5, "the gripper closing")
    code = driver.stop()
    assert code == 0, f"the driver exited {code}:\n{driver.log()}"
