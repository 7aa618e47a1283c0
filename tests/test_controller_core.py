"""The controller's functional core, without ROS: the law on hand-computable cases, reference
handling, limits, and the closed loop against MuJoCo in one process."""

from __future__ import annotations

import math

import numpy as np
import pytest
from polyarm_control.config import default_config
from polyarm_control.core import STOPPED
from polyarm_control.limits import CommandGuard
from polyarm_control.osc import OSCGains, filtered_inverse, osc_torque
from polyarm_control.reference import Pose, ReferenceInterpolator, TargetError, Workspace, min_jerk, validate_target
from polyarm_core.rotations import (
    angle_between,
    from_rotation_vector,
    matrix_to_quat,
    orientation_error,
    quat_to_matrix,
)
from polyarm_description import ROBOTS, get_robot, joint_limits, load_model
from sim_bridge.controlled import ControlledSim

# ------------------------------------------------------------------ the law, by hand


def test_identity_mass_matrix_and_jacobian_give_the_pd_law():
    e = np.array([0.01, -0.02, 0.03, 0.1, 0.0, -0.05])
    v = np.array([0.1, 0.0, -0.2, 0.0, 0.3, 0.0])
    q = np.zeros(6)
    gains = OSCGains(mode="osc", stiffness_position=100.0, stiffness_orientation=49.0, damping_ratio=1.0, nullspace_stiffness=0.0)
    tau, F = osc_torque(gains, np.eye(6), np.eye(6), e, -v, q, np.zeros(6), q)  # still reference: edot = -v
    kp = np.array([100.0] * 3 + [49.0] * 3)
    expected = kp * e - 2.0 * np.sqrt(kp) * v  # Lambda = I: F = Kp e - 2 sqrt(Kp) v
    assert np.allclose(F, expected) and np.allclose(tau, expected)

    gains = OSCGains(mode="impedance", stiffness_position=500.0, stiffness_orientation=20.0, damping_ratio=0.7, nullspace_stiffness=0.0)
    M = 2.0 * np.eye(6)  # Lambda = 2 I: D = 2 zeta sqrt(K * 2)
    tau, F = osc_torque(gains, np.eye(6), M, e, -v, q, np.zeros(6), q)
    K = np.array([500.0] * 3 + [20.0] * 3)
    assert np.allclose(F, K * e - 2 * 0.7 * np.sqrt(K * 2.0) * v)


def planar_two_link(q, l1=0.5, l2=0.4, m1=2.0, m2=1.5):
    """Point masses at the link ends: the textbook M(q) and the tip Jacobian."""
    c2 = math.cos(q[1])
    s1, s12, c1, c12 = math.sin(q[0]), math.sin(q[0] + q[1]), math.cos(q[0]), math.cos(q[0] + q[1])
    M = np.array([[m1 * l1**2 + m2 * (l1**2 + 2 * l1 * l2 * c2 + l2**2), m2 * (l1 * l2 * c2 + l2**2)],
                  [m2 * (l1 * l2 * c2 + l2**2), m2 * l2**2]])
    J = np.array([[-l1 * s1 - l2 * s12, -l2 * s12], [l1 * c1 + l2 * c12, l2 * c12]])
    return M, J


def test_two_link_planar_arm_matches_the_task_space_formulas():
    q, qd = np.array([0.3, 1.1]), np.array([0.2, -0.4])
    M, J2 = planar_two_link(q)
    J = np.zeros((6, 2))
    J[:2] = J2  # a planar arm: only x and y of the tip move
    e = np.zeros(6)
    e[:2] = (0.02, -0.01)
    gains = OSCGains(mode="osc", stiffness_position=64.0, nullspace_stiffness=0.0)
    tau, F = osc_torque(gains, J, M, e, -(J @ qd), q, qd, q)
    Lambda = np.linalg.inv(J2 @ np.linalg.inv(M) @ J2.T)  # by hand, 2x2
    F_xy = Lambda @ (64.0 * e[:2] - 16.0 * (J2 @ qd))
    assert np.allclose(F[:2], F_xy) and np.allclose(F[2:], 0.0)
    assert np.allclose(tau, J2.T @ F_xy)
    # the arm's tip acceleration under this torque is the commanded one: xdd = Kp e - Kd xd
    xdd = J2 @ np.linalg.solve(M, tau)  # (the Jdot qd term is the caller's Coriolis compensation)
    assert np.allclose(xdd, 64.0 * e[:2] - 16.0 * (J2 @ qd))


def test_posture_torque_never_disturbs_the_task():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(7, 7))
    M = A @ A.T + 7 * np.eye(7)
    J = rng.normal(size=(6, 7))
    gains = OSCGains(mode="osc", nullspace_stiffness=25.0)
    q, qd, posture = rng.normal(size=7), rng.normal(size=7), rng.normal(size=7)
    tau_task, _ = osc_torque(gains, J, M, np.zeros(6), np.zeros(6), q, qd * 0, q)
    tau_all, _ = osc_torque(gains, J, M, np.zeros(6), np.zeros(6), q, qd, posture)
    assert np.allclose(tau_task, 0.0)
    # the posture torque produces no task-space acceleration: J M^-1 tau = 0
    assert np.allclose(J @ np.linalg.solve(M, tau_all), 0.0, atol=1e-9)


def test_filtered_inverse_is_exact_away_from_and_bounded_near_singularities():
    A = np.diag([2.0, 0.5, 1e-4])
    inv = filtered_inverse(A, 0.01)
    assert np.allclose(np.diag(inv)[:2], [0.5, 2.0]) and np.diag(inv)[2] == pytest.approx(1.0)  # 1e-4 / 1e-4
    assert np.all(np.isfinite(filtered_inverse(np.zeros((3, 3)), 0.01)))


def test_gains_refuse_bad_values():
    with pytest.raises(ValueError, match="valid modes: osc, impedance"):
        OSCGains(mode="pid")
    with pytest.raises(ValueError, match="stiffness_position"):
        OSCGains(stiffness_position=float("nan"))


# --------------------------------------------------------------------- rotations


def test_quaternion_round_trip_and_orientation_error():
    rng = np.random.default_rng(0)
    for _ in range(20):
        R = from_rotation_vector(rng.uniform(-2, 2, 3))
        assert np.allclose(quat_to_matrix(matrix_to_quat(R)), R)
    R0 = from_rotation_vector([0.2, -0.1, 0.4])
    axis = np.array([1.0, 2.0, -0.5]) / np.linalg.norm([1.0, 2.0, -0.5])
    R1 = from_rotation_vector(math.radians(15) * axis) @ R0
    assert np.allclose(orientation_error(R1, R0), math.radians(15) * axis)
    # shortest path: 350 degrees the long way round is 10 degrees the other way
    R2 = from_rotation_vector(math.radians(350) * axis) @ R0
    assert np.allclose(orientation_error(R2, R0), -math.radians(10) * axis)


# ------------------------------------------------------------- reference handling


def test_target_validation_names_the_problem():
    with pytest.raises(TargetError, match="not finite"):
        validate_target([0.4, math.nan, 0.3], [0, 0, 0, 1], "base_link", "base_link")
    with pytest.raises(TargetError, match="frame 'world'"):
        validate_target([0.4, 0, 0.3], [0, 0, 0, 1], "world", "base_link")
    with pytest.raises(TargetError, match="unit quaternion"):
        validate_target([0.4, 0, 0.3], [0, 0, 0, 0], "base_link", "base_link")
    pose = validate_target([0.4, 0, 0.3], [0, 0, 0, 1.02], "base_link", "base_link")
    assert np.allclose(pose.rotation, np.eye(3))


def test_workspace_clips_to_the_box():
    box = Workspace(np.array([0.2, -0.4, 0.02]), np.array([0.8, 0.4, 0.7]))
    clipped, was = box.clip(np.array([1.2, -0.1, -0.3]))
    assert was and np.allclose(clipped, [0.8, -0.1, 0.02])
    assert not box.clip(np.array([0.5, 0.0, 0.3]))[1]


def test_interpolator_is_smooth_bounded_and_measures_the_target_period():
    assert min_jerk(0) == 0 and min_jerk(1) == 1 and min_jerk(0.5) == pytest.approx(0.5)
    interp = ReferenceInterpolator(default_period=0.5, max_linear_speed=0.3, max_angular_speed=1.5)
    start = Pose(np.array([0.4, 0.0, 0.3]), np.eye(3))
    interp.reset(start, 0.0)
    goal = Pose(np.array([0.45, 0.0, 0.3]), from_rotation_vector([0, 0, math.radians(15)]))
    interp.set_target(goal, 0.0)
    positions, dt = [], 0.01
    for k in range(1, 80):
        positions.append(interp.update(k * dt, dt).position[0])
    steps = np.diff([0.4, *positions])
    assert np.all(steps >= -1e-12) and np.max(steps) <= 0.3 * dt + 1e-12
    assert positions[-1] == pytest.approx(0.45) and angle_between(interp.reference.rotation, goal.rotation) < 1e-9
    # min-jerk: slow at both ends
    assert steps[0] < 0.2 * steps.max() and steps[48] < 0.2 * steps.max()
    for t in (1.0, 1.1, 1.2):  # targets at 10 Hz
        interp.set_target(goal, t)
    assert 0.1 < interp.period < 0.5
    interp.hold(1.2)
    frozen = interp.reference
    interp.set_target(Pose(np.array([0.6, 0.0, 0.3]), np.eye(3)), 1.25)
    interp.hold(1.25)
    assert np.allclose(interp.update(1.3, dt).position, frozen.position)


def test_a_reference_catching_up_at_top_speed_brakes_before_the_target_instead_of_stopping_dead():
    """Targets that run ahead of the speed limit (a stream whose period estimate is still long), then stop:
    the reference's velocity never changes by more than a few ticks' worth of its acceleration limit."""
    dt, accel = 0.001, 3.0
    interp = ReferenceInterpolator(default_period=0.5, max_linear_speed=0.3, max_linear_acceleration=accel)
    interp.reset(Pose(np.zeros(3), np.eye(3)), 0.0)
    velocities, t = [], 0.0
    for k in range(2500):
        t = k * dt
        if k % 90 == 0 and k < 900:  # 10 Hz targets racing 0.5 m/s ahead, then the last one stays
            interp.set_target(Pose(np.array([0.5 * t + 0.05, 0.0, 0.0]), np.eye(3)), t)
        interp.update(t, dt)
        velocities.append(interp.velocity[0])
    change = np.abs(np.diff(velocities))
    assert max(velocities) <= 0.3 + 1e-9
    assert change.max() < 5 * accel * dt, f"a velocity step of {change.max():.3f} m/s in one tick"
    assert interp.reference is interp.target, "it arrives on the last target, exactly"


def limits_of(name):
    return joint_limits(load_model(get_robot(name)), get_robot(name))


def test_command_guard_replaces_nan_clips_and_rate_limits():
    lim = limits_of("xarm7")
    guard = CommandGuard(lim, "position", 0.01)
    guard.reset(np.zeros(7))
    out = guard(np.array([math.nan, 10.0, 0, 0, 0, 0, 0]))
    assert np.all(np.isfinite(out)) and out[0] == 0.0 and out[1] == pytest.approx(lim.velocity[1] * 0.01)
    effort = CommandGuard(limits_of("panda"), "effort", 0.01)
    out = effort(np.array([500.0, -500.0, math.inf, 0, 0, 0, 0]))
    assert out[0] == 87.0 and out[1] == -87.0 and out[2] == 0.0


# -------------------------------------------------------------- closed loop, in process


def step_target(cs: ControlledSim):
    p0, R0 = cs.tcp()
    return p0 + np.array([0.03, 0.03, -0.028]), from_rotation_vector(np.radians(15) * np.array([0.0, 0.0, 1.0])) @ R0


@pytest.mark.parametrize("name", sorted(ROBOTS))
def test_starts_holding_its_pose_without_a_jump(name):
    cs = ControlledSim(get_robot(name))
    p0, R0 = cs.tcp()
    travel = []
    cs.run(1.0, lambda c, out: travel.append(np.linalg.norm(c.tcp()[0] - p0)))
    assert max(travel) < 5e-4 and cs.last.status == "hold: no target yet"


def test_stale_joint_states_hold_effort_by_silence_and_position_by_the_last_target():
    for name, expect_none in (("panda", True), ("xarm7", False)):
        core = ControlledSim(get_robot(name)).controller
        out = core.tick(core._state_time + 0.06)
        assert "joint_states stale" in out.status
        assert (out.command is None) == expect_none
        if not expect_none:
            assert np.allclose(out.command, core.guard.previous)


def test_estop_stops_motion_and_resume_continues_from_the_measured_pose():
    cs = ControlledSim(get_robot("panda"))
    target_p, target_R = step_target(cs)
    cs.set_target(target_p, target_R)
    cs.run(0.35)  # mid-motion
    assert np.abs(cs.sim.data.qvel[:7]).max() > 0.05
    cs.controller.stop(cs.time)
    cs.run(0.4)
    assert cs.controller.mode == STOPPED and np.abs(cs.sim.data.qvel[:7]).max() < 0.01
    with pytest.raises(TargetError, match="stopped"):
        cs.set_target(target_p, target_R)
    stopped_at = cs.tcp()[0]
    cs.controller.resume(cs.time)
    cs.run(0.5)
    assert np.linalg.norm(cs.tcp()[0] - stopped_at) < 1e-3, "resume holds the measured pose, no jump"
    cs.set_target(target_p, target_R)
    cs.run(1.5)
    assert np.linalg.norm(cs.tcp()[0] - target_p) < 3e-3


def test_no_target_for_too_long_holds_the_reference():
    config = default_config("xarm7", target_timeout=0.3)
    cs = ControlledSim(get_robot("xarm7"), config)
    target_p, target_R = step_target(cs)
    cs.set_target(target_p, target_R)
    cs.run(0.2)
    cs.run(0.2)
    assert cs.last.status.startswith("hold: no target for")
    frozen = cs.controller.interpolator.reference.position.copy()
    cs.run(0.5)
    assert np.allclose(cs.controller.interpolator.reference.position, frozen)
    assert np.linalg.norm(frozen - target_p) > 0.005, "held short of the target"


@pytest.mark.parametrize("name", ["wx250s", "panda"])
def test_step_response_in_process(name):
    cs = ControlledSim(get_robot(name))
    target_p, target_R = step_target(cs)
    start = cs.tcp()[0]
    cs.set_target(target_p, target_R)
    progress = []
    cs.run(1.5, lambda c, out: progress.append(np.dot(c.tcp()[0] - start, target_p - start) / np.dot(target_p - start, target_p - start)))
    p, R = cs.tcp()
    assert np.linalg.norm(p - target_p) < 3e-3 and math.degrees(angle_between(R, target_R)) < 1.0
    assert max(progress) < 1.15
