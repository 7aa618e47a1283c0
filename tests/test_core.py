"""The ground floor on its own: rotations against MuJoCo's, PolicyCore's guards, the backend registry."""

from __future__ import annotations

import math
import subprocess
import sys

import mujoco
import numpy as np
import pytest
from polyarm_core.options import described
from polyarm_core.policy_core import PolicyCore, RobotReading
from polyarm_core.policy_io import ObservationError
from polyarm_core.registry import UnknownBackendError, factory, names
from polyarm_core.rotations import (
    angle_between,
    from_rotation_vector,
    matrix_to_quat,
    matrix_to_rpy,
    orientation_error,
    quat_to_matrix,
    rpy_to_matrix,
)
from polyarm_description import get_robot


def mj_matrix(q_wxyz) -> np.ndarray:
    R = np.empty(9)
    mujoco.mju_quat2Mat(R, np.asarray(q_wxyz, float))
    return R.reshape(3, 3)


def test_rotations_match_mujocos_functions():
    rng = np.random.default_rng(0)
    for _ in range(500):
        v = rng.uniform(-3, 3, 3)
        q = np.empty(4)
        mujoco.mju_axisAngle2Quat(q, v / np.linalg.norm(v), np.linalg.norm(v))
        R = mj_matrix(q)
        assert np.allclose(from_rotation_vector(v), R, atol=1e-12)
        assert np.allclose(quat_to_matrix([q[1], q[2], q[3], q[0]]), R, atol=1e-12)
        ours = matrix_to_quat(R)
        assert ours[3] >= 0 and np.allclose(np.abs(ours @ [q[1], q[2], q[3], q[0]]), 1.0, atol=1e-9)
        R2 = from_rotation_vector(rng.uniform(-3, 3, 3))
        qd, qc, err, dq = np.empty(4), np.empty(4), np.empty(3), np.empty(4)
        mujoco.mju_mat2Quat(qd, R.ravel())
        mujoco.mju_mat2Quat(qc, R2.ravel())
        mujoco.mju_negQuat(qc, qc.copy())
        mujoco.mju_mulQuat(dq, qd, qc)
        mujoco.mju_quat2Vel(err, dq if dq[0] >= 0 else -dq, 1.0)
        assert np.allclose(orientation_error(R, R2), err, atol=1e-9)
        assert np.allclose(from_rotation_vector(orientation_error(R, R2)) @ R2, R, atol=1e-9)


def test_roll_pitch_yaw_compose_back_to_the_rotation():
    """matrix_to_rpy: R = Rz(yaw) Ry(pitch) Rx(roll), as the xArm reports its TCP."""
    rng = np.random.default_rng(1)
    x, y, z = np.eye(3)
    for _ in range(200):
        R = from_rotation_vector(rng.uniform(-3, 3, 3))
        roll, pitch, yaw = matrix_to_rpy(R)
        composed = from_rotation_vector(yaw * z) @ from_rotation_vector(pitch * y) @ from_rotation_vector(roll * x)
        assert np.allclose(composed, R, atol=1e-9) and abs(pitch) <= math.pi / 2
        assert np.allclose(rpy_to_matrix((roll, pitch, yaw)), R, atol=1e-9)
    down = from_rotation_vector(math.pi * x)  # the xArm's home: TCP straight down
    assert np.allclose(np.abs(matrix_to_rpy(down)), [math.pi, 0.0, 0.0], atol=1e-9)


def test_the_orientation_error_takes_the_short_way_round():
    axis = np.array([0.0, 0.0, 1.0])
    assert angle_between(from_rotation_vector(math.radians(350) * axis), np.eye(3)) == pytest.approx(math.radians(10))
    assert np.allclose(orientation_error(np.eye(3), np.eye(3)), 0.0)


PANDA = get_robot("panda")
CHECKPOINT = {"observation": {"image_size": 48, "neutral_quaternion": PANDA.home_tcp_quaternion},
              "action": {"position_scale": 0.05, "rotation_scale": 0.2}}


def reading(**changes) -> RobotReading:
    base = dict(tcp_position=np.array([0.45, 0.0, 0.3]), tcp_quaternion=np.array(PANDA.home_tcp_quaternion),
                gripper_opening=1.0, image=np.zeros((120, 160, 3), np.uint8), stamps={"ee_pose": 10.0, "camera image": 10.0})
    return RobotReading(**{**base, **changes})


def test_a_step_turns_the_action_into_a_target_relative_to_the_observed_pose():
    core = PolicyCore.for_checkpoint(CHECKPOINT, PANDA, max_observation_age=0.3)
    seen = []
    step = core.step(lambda obs: seen.append(obs) or np.array([1.0, -0.5, 0, 0, 0, 0, -1.0, 0.0]), reading(), now=10.1)
    assert seen[0]["image"].shape == (48, 48, 3) and seen[0]["state"].shape == (8,)
    assert np.allclose(step.command.position, [0.5, -0.025, 0.3]) and step.command.gripper == 0.0
    assert not step.skipped and not step.hold and step.observation_age == pytest.approx(0.1)


def test_an_old_input_skips_the_step_and_names_it():
    core = PolicyCore.for_checkpoint(CHECKPOINT, PANDA, max_observation_age=0.3)
    called = []
    step = core.step(lambda obs: called.append(1), reading(stamps={"ee_pose": 10.0, "camera image": 9.5}), now=10.1)
    assert step.command is None and not called and "camera image 600 ms" in step.skipped


def test_a_non_finite_action_holds_and_sends_nothing():
    core = PolicyCore.for_checkpoint(CHECKPOINT, PANDA)
    step = core.step(lambda obs: np.array([np.nan, 0, 0, 0, 0, 0, 0, 0]), reading())
    assert step.command is None and "non-finite" in step.hold


def test_targets_are_clipped_to_the_profiles_workspace_and_the_neutral_action_goes_home():
    core = PolicyCore.for_checkpoint(CHECKPOINT, PANDA)
    far = core.step(lambda obs: np.array([0, 0, -1.0, 0, 0, 0, 0, 0]), reading(tcp_position=np.array([0.45, 0.0, 0.03])))
    assert far.command.clipped and far.command.position[2] == PANDA.workspace_low[2]
    home = core.step(lambda obs: np.array([0, 0, 0, 0, 0, 0, 0, 1.0]), reading())
    assert home.command.neutral and np.allclose(home.command.position, PANDA.home_tcp_position)
    assert angle_between(home.command.rotation, quat_to_matrix(PANDA.home_tcp_quaternion)) < 1e-9


def test_a_frame_of_the_wrong_size_is_named():
    core = PolicyCore.for_checkpoint(CHECKPOINT, PANDA)
    with pytest.raises(ObservationError, match="smaller than the 48x48 input"):
        core.step(lambda obs: np.zeros(8), reading(image=np.zeros((30, 40, 3), np.uint8)))


def test_the_registry_names_what_it_knows():
    assert {"dynamixel", "franky", "mujoco", "xarm"} <= set(names("driver"))
    assert factory("driver", "mujoco").__name__ == "StandaloneMujocoDriver"
    assert factory("camera", "realsense").__name__ == "RealSenseCamera"
    with pytest.raises(UnknownBackendError, match="unknown camera 'kinect'; valid: opencv, realsense"):
        factory("camera", "kinect")
    assert factory("teleop device", "keyboard").__name__ == "keyboard"
    with pytest.raises(UnknownBackendError, match="unknown teleop device 'wiimote'; valid: gamepad, keyboard, spacemouse"):
        factory("teleop device", "wiimote")


def test_listing_the_registry_imports_no_implementation():
    """Names come from the installed packages' metadata: a fresh interpreter lists them with none of the
    implementations' modules (or their SDKs) loaded."""
    code = ("import sys; from polyarm_core.registry import names; "
            "listed = [names(k) for k in ('driver', 'camera', 'teleop device')]; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('polyarm_drivers', 'polyarm_cameras', 'polyarm_teleop', 'sim_bridge', 'franky', 'xarm', 'mujoco')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout


def test_a_drivers_options_are_one_dataclass_with_declared_capabilities():
    franky = factory("driver", "franky")
    assert described(franky.config_class)["signal_timeout"][0] == 0.05
    assert franky.can("realtime_loop") and franky.can("recover") and not franky.can("servo_bus")
    assert factory("driver", "dynamixel").can("servo_bus") and not factory("driver", "dynamixel").can("realtime_loop")
    assert not factory("driver", "mujoco").can("home")
    with pytest.raises(ValueError, match="no option hostname; valid: host, realtime"):
        franky.create(get_robot("panda"), hostname="127.0.0.1")
    with pytest.raises(ValueError, match="realtime must be one of enforce, ignore, got 'sometimes'"):
        franky.create(get_robot("panda"), host="127.0.0.1", realtime="sometimes")
    with pytest.raises(ValueError, match="unknown driver capability 'fly'"):
        franky.can("fly")
