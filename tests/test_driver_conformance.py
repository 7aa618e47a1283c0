"""The driver conformance suite (tests/driver_conformance.py) on the MuJoCo arm: through the RobotDriver
interface, and through the driver node (`polyarm driver`) in its own process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import Collector, spin_for, spin_until
from driver_conformance import INTERFACE_CHECKS, check_reading
from polyarm_common.qos import COMMAND, STATE
from polyarm_core.registry import factory
from polyarm_description import get_robot

# (backend, robot): every command interface; the real drivers' tests add their own rows
CASES = [("mujoco", "panda"), ("mujoco", "xarm7"), ("mujoco", "wx250s")]


@pytest.fixture(params=CASES, ids=[f"{b}-{r}" for b, r in CASES])
def driver(request):
    backend, robot = request.param
    driver = factory("driver", backend)(get_robot(robot))
    driver.connect()
    yield driver
    driver.close()


def test_the_driver_conforms_through_its_interface(driver):
    check_reading(driver)
    for check in INTERFACE_CHECKS:
        check(driver)


def test_an_unknown_backend_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown driver 'ur_rtde'; valid: mujoco"):
        factory("driver", "ur_rtde")


@pytest.mark.ros
@pytest.mark.parametrize("backend,robot", CASES[:2], ids=[f"{b}-{r}" for b, r in CASES[:2]])
def test_the_driver_node_conforms(backend, robot, node, start_node):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64

    profile = get_robot(robot)
    states = Collector(node, JointState, "joint_states", STATE)
    driver = start_node("driver", "--robot", robot, "--backend", backend)
    spin_until(node, lambda: len(states.messages) > 20, 60, f"joint_states ({driver.log()})")
    states.clear()
    spin_for(node, 1.0)
    assert states.rate_hz() > 150, f"joint_states at {states.rate_hz():.0f} Hz"
    assert tuple(states.last.name) == profile.arm_joints + profile.finger_joints

    def arm():
        msg = states.last
        return np.array([msg.position[msg.name.index(j)] for j in profile.arm_joints])

    field = "position" if profile.command_interface == "position" else "effort"
    commands = node.create_publisher(JointState, "joint_commands", COMMAND)
    spin_until(node, lambda: commands.get_subscription_count() > 0, 30, "the driver's joint_commands subscription")
    start = arm()
    move = start + np.eye(profile.dof)[0] * 0.2 if field == "position" else np.eye(profile.dof)[0] * 2.0
    for _ in range(30):  # 0.3 s at the controller's rate
        commands.publish(JointState(name=list(profile.arm_joints), **{field: move.tolist()}))
        spin_for(node, 0.01)
    spin_for(node, 0.6)  # the stream stopped: an effort arm stops and holds, a servo holds its target
    assert abs(arm()[0] - start[0]) > 0.02

    here = arm()
    bad = here.copy()
    bad[0] = math.nan
    commands.publish(JointState(name=list(profile.arm_joints), **{field: bad.tolist()}))
    spin_for(node, 0.5)
    assert np.abs(arm() - here).max() < 2e-3
    spin_until(node, lambda: "joint_commands rejected" in driver.log() and "not finite" in driver.log(), 5, "the rejection")

    gripper = node.create_publisher(Float64, "gripper/command", COMMAND)
    finger = profile.finger_joints[0]
    closed = lambda: profile.gripper_opening(states.last.position[states.last.name.index(finger)]) < 0.1  # noqa: E731
    spin_until(node, lambda: gripper.publish(Float64(data=0.0)) or closed(), 5, "the gripper closing")
    assert driver.stop() == 0
