"""The robot descriptions against the makers' published parameters, computed independently here."""

from __future__ import annotations

import math

import mujoco
import numpy as np
import pytest
from polyarm_core.rotations import angle_between, quat_to_matrix
from polyarm_description import ROBOTS, UnknownRobotError, get_robot, joint_limits, load_model

# ---- forward kinematics written from the published tables, not from the MJCF ----------------


def _rot_x(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1.0]])


def _rot_z(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0, 0], [s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])


def _trans(x, y, z):
    T = np.eye(4)
    T[:3, 3] = (x, y, z)
    return T


def craig_dh(table, q):
    """Modified (Craig) DH: T_i = Rx(alpha_{i-1}) Tx(a_{i-1}) Rz(theta_i) Tz(d_i)."""
    T = np.eye(4)
    for (a, d, alpha), theta in zip(table, q):
        T = T @ _rot_x(alpha) @ _trans(a, 0, 0) @ _rot_z(theta) @ _trans(0, 0, d)
    return T


# Franka Emika, "Robot and interface specifications": (a, d, alpha) per joint, then the flange.
PANDA_DH = [(0, 0.333, 0), (0, 0, -math.pi / 2), (0, 0.316, math.pi / 2), (0.0825, 0, math.pi / 2),
            (-0.0825, 0.384, -math.pi / 2), (0, 0, math.pi / 2), (0.088, 0, math.pi / 2)]


def panda_tcp(q):
    flange = craig_dh(PANDA_DH, q) @ _trans(0, 0, 0.107)
    return flange @ _rot_z(-math.pi / 4) @ _trans(0, 0, 0.1034)  # Franka Hand TCP


# UFACTORY xArm 7 modified DH (mm in the manual): (a, d, alpha).
XARM7_DH = [(0, 0.267, 0), (0, 0, -math.pi / 2), (0, 0.293, math.pi / 2), (0.0525, 0, math.pi / 2),
            (0.0775, 0.3425, math.pi / 2), (0, 0, math.pi / 2), (0.076, 0.097, -math.pi / 2)]


def xarm7_tcp(q):
    return craig_dh(XARM7_DH, q) @ _trans(0, 0, 0.172)  # xArm Gripper TCP offset


def _screw_exp(S, theta):
    w, v = np.asarray(S[:3], float), np.asarray(S[3:], float)
    W = np.array([[0, -w[2], w[1]], [w[2], 0, -w[0]], [-w[1], w[0], 0]])
    R = np.eye(3) + math.sin(theta) * W + (1 - math.cos(theta)) * W @ W
    G = np.eye(3) * theta + (1 - math.cos(theta)) * W + (theta - math.sin(theta)) * W @ W
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, G @ v
    return T


def product_of_exponentials(M, screws, q):
    T = np.eye(4)
    for S, theta in zip(screws, q):
        T = T @ _screw_exp(S, theta)
    return T @ M


# Interbotix's published space-frame screw axes and home pose of ee_gripper_link.
WX_M = np.array([[1, 0, 0, 0.458325], [0, 1, 0, 0], [0, 0, 1, 0.36065], [0, 0, 0, 1.0]])
WX250S_SCREWS = [[0, 0, 1, 0, 0, 0], [0, 1, 0, -0.11065, 0, 0], [0, 1, 0, -0.36065, 0, 0.04975],
                 [1, 0, 0, 0, 0.36065, 0], [0, 1, 0, -0.36065, 0, 0.29975], [1, 0, 0, 0, 0.36065, 0]]
WX250_SCREWS = [[0, 0, 1, 0, 0, 0], [0, 1, 0, -0.11065, 0, 0], [0, 1, 0, -0.36065, 0, 0.04975],
                [0, 1, 0, -0.36065, 0, 0.29975], [1, 0, 0, 0, 0.36065, 0]]

INDEPENDENT_FK = {
    "panda": panda_tcp,
    "xarm7": xarm7_tcp,
    "wx250s": lambda q: product_of_exponentials(WX_M, WX250S_SCREWS, q),
    "wx250": lambda q: product_of_exponentials(WX_M, WX250_SCREWS, q),
}


def mjcf_tcp(robot, model, data, q):
    for name, value in zip(robot.arm_joints, q):
        data.qpos[model.joint(name).qposadr[0]] = value
    mujoco.mj_kinematics(model, data)
    site = data.site(robot.tcp_site)
    return site.xpos.copy(), site.xmat.reshape(3, 3).copy()


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_tcp_forward_kinematics_matches_published_parameters(name):
    robot = get_robot(name)
    model = load_model(robot)
    data = mujoco.MjData(model)
    lim = joint_limits(model, robot)
    rng = np.random.default_rng(7)
    low, high = np.maximum(lim.lower, -math.pi), np.minimum(lim.upper, math.pi)
    configurations = [np.zeros(robot.dof), *rng.uniform(low, high, size=(4, robot.dof))]
    for q in configurations:
        position, rotation = mjcf_tcp(robot, model, data, q)
        expected = INDEPENDENT_FK[name](q)
        assert np.linalg.norm(position - expected[:3, 3]) < 1e-3, f"{name} TCP position at q={q}"
        angle = math.acos(np.clip((np.trace(rotation.T @ expected[:3, :3]) - 1) / 2, -1, 1))
        assert math.degrees(angle) < 0.1, f"{name} TCP orientation at q={q}"


# Spot values of the makers' datasheets: (joint index, lower, upper, velocity, effort)
PUBLISHED_LIMITS = {
    "panda": [(0, -2.8973, 2.8973, 2.175, 87), (3, -3.0718, -0.0698, 2.175, 87), (5, -0.0175, 3.7525, 2.61, 12)],
    "xarm7": [(1, math.radians(-118), math.radians(120), math.pi, 50), (3, math.radians(-11), math.radians(225), math.pi, 30),
              (5, math.radians(-97), math.radians(180), math.pi, 20)],
    "wx250s": [(1, math.radians(-108), math.radians(114), math.pi, 20), (2, math.radians(-123), math.radians(92), math.pi, 15),
               (4, math.radians(-100), math.radians(123), math.pi, 5)],
    "wx250": [(1, math.radians(-108), math.radians(114), math.pi, 20), (3, math.radians(-100), math.radians(123), math.pi, 5)],
}


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_joint_limits_are_the_published_ones(name):
    robot = get_robot(name)
    lim = joint_limits(load_model(robot), robot)
    for array in (lim.lower, lim.upper, lim.velocity, lim.effort):
        assert array.shape == (robot.dof,) and np.all(np.isfinite(array))
    assert np.all(lim.lower < lim.upper) and np.all(lim.velocity > 0) and np.all(lim.effort > 0)
    for i, lower, upper, velocity, effort in PUBLISHED_LIMITS[name]:
        assert lim.lower[i] == pytest.approx(lower, abs=2e-3)
        assert lim.upper[i] == pytest.approx(upper, abs=2e-3)
        assert lim.velocity[i] == pytest.approx(velocity, rel=1e-3)
        assert lim.effort[i] == pytest.approx(effort)


# Whole-robot mass against the sources: Panda ~18 kg with its hand (Franka); WidowX 250 about 2.3 kg
# (Interbotix URDF). The xArm 7's identified link parameters sum to 7 kg of moving links, less
# than the 13.7 kg catalogue weight, which includes the base electronics: the bound is wide.
ROBOT_MASS_KG = {"panda": (16.5, 19.0), "xarm7": (9.5, 15.5), "wx250s": (1.9, 2.6), "wx250": (1.9, 2.6)}


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_masses_inertias_and_actuators(name):
    robot = get_robot(name)
    model = load_model(robot)
    low, high = ROBOT_MASS_KG[name]
    assert low < model.body_mass.sum() < high
    moving = [model.joint(j).bodyid[0] for j in robot.arm_joints]
    assert np.all(model.body_mass[moving] > 0) and np.all(model.body_inertia[moving] > 0)
    assert model.site(robot.tcp_site) is not None
    for joint in robot.arm_joints:
        act = model.actuator(joint)
        assert model.actuator_trnid[act.id, 0] == model.joint(joint).id
        # motor: no bias (pure torque); position servo: bias -kp*q -kv*qdot
        is_servo = model.actuator_biastype[act.id] == mujoco.mjtBias.mjBIAS_AFFINE
        assert is_servo == (robot.command_interface == "position")
    closed, opened = robot.gripper_range
    assert closed < opened
    for finger in robot.finger_joints:  # the profile's finger range lies within the MJCF joint's
        low, high = model.joint(finger).range
        assert low - 1e-9 <= closed and opened <= high + 1e-9
    assert np.all(model.geom_contype[model.geom_bodyid > 0] == 2), "robot geoms collide with the scene only"


def test_panda_compensates_its_own_gravity_and_servo_arms_model_integral_action():
    for robot in ROBOTS.values():
        model = load_model(robot)
        moving = [model.joint(j).bodyid[0] for j in robot.arm_joints]
        assert np.all(model.body_gravcomp[moving] == 1.0)
    assert get_robot("panda").gravity_compensated and get_robot("panda").command_interface == "effort"


@pytest.mark.parametrize("name", list(ROBOTS))
def test_the_profile_home_tcp_pose_is_the_forward_kinematics_of_the_mjcf_home_keyframe(name):
    robot = get_robot(name)
    model = load_model(robot)
    data = mujoco.MjData(model)
    mujoco.mj_resetDataKeyframe(model, data, model.key("home").id)
    mujoco.mj_forward(model, data)
    site = data.site(robot.tcp_site)
    assert np.abs(site.xpos - robot.home_tcp_position).max() < 1e-5
    assert angle_between(site.xmat.reshape(3, 3), quat_to_matrix(robot.home_tcp_quaternion)) < 1e-5


def test_unknown_robot_lists_the_valid_ones():
    with pytest.raises(UnknownRobotError, match="panda, wx250, wx250s, xarm7"):
        get_robot("ur5")
