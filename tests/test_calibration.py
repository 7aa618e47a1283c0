"""The calibration core against the sim's known camera: intrinsics from MuJoCo-rendered ChArUco views,
the planar board's flip, and hand-eye's refusals (too few poses, a board never seen, degenerate motion)."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
from polyarm_calibration.board_pose import board_pose
from polyarm_calibration.hand_eye import solve_hand_eye
from polyarm_calibration.intrinsics import CalibrationError, calibrate_intrinsics
from polyarm_cameras.charuco import CharucoBoardSpec, detect
from polyarm_core.rotations import from_rotation_vector
from polyarm_core.rotations import pose_matrix as pose
from polyarm_description import get_robot
from sim_bridge.calibration_board import BoardMount
from sim_bridge.camera import CameraConfig
from sim_bridge.mujoco_sim import MujocoSim, SceneRenderer

W, H = 640, 480


def free_board_views(camera: CameraConfig, n: int, seed: int = 0):
    """n renders of a free board facing the camera from 0.35-0.6 m, tipped up to 35 degrees and rolled."""
    robot = get_robot("panda")
    mount = BoardMount("free")
    sim = MujocoSim(robot, camera, board=mount)
    renderer = SceneRenderer(sim.model, camera)
    rng = np.random.default_rng(seed)
    base_from_camera = pose(camera.optical_rotation(), camera.position)
    width, height = mount.board.size_m
    views = []
    for _ in range(n):
        tilt = from_rotation_vector(rng.uniform(-1, 1, 3) * np.radians([35.0, 35.0, 60.0]))
        centre = [rng.uniform(-0.08, 0.08), rng.uniform(-0.06, 0.06), rng.uniform(0.35, 0.6)]
        camera_from_board = pose(tilt, centre) @ pose(np.eye(3), [-width / 2, -height / 2, 0.0])
        world = base_from_camera @ camera_from_board
        sim.data.mocap_pos[0] = world[:3, 3]
        mujoco.mju_mat2Quat(sim.data.mocap_quat[0], world[:3, :3].ravel())
        mujoco.mj_forward(sim.model, sim.data)
        image, _ = renderer.render(sim.data.qpos, sim.data.mocap_pos, sim.data.mocap_quat)
        views.append((image, camera_from_board))
    renderer.close()
    return mount.board, views


@pytest.fixture(scope="module")
def camera() -> CameraConfig:
    """The Panda's perception camera at 640x480, its principal point off centre as a real one's is."""
    return CameraConfig.perception_view(get_robot("panda"), width=W, height=H, name="scene_camera", cx=323.5, cy=236.0, fx=612.0, fy=611.0)


def test_intrinsics_from_rendered_views_recover_the_sim_camera_within_half_a_percent(camera):
    board, views = free_board_views(camera, 15)
    result = calibrate_intrinsics([detect(board, image) for image, _ in views], W, H)
    K, truth = result.intrinsics.K, camera.K
    errors = {name: abs(K[i, j] - truth[i, j]) / truth[i, j] for name, (i, j) in
              {"fx": (0, 0), "fy": (1, 1), "cx": (0, 2), "cy": (1, 2)}.items()}
    print(f"intrinsics from {len(result.view_errors_px)} views, rms {result.rms_px:.3f} px; relative errors "
          + ", ".join(f"{k} {100 * v:.3f}%" for k, v in errors.items()))
    assert max(errors.values()) <= 0.005 and result.rms_px < 0.5


def test_board_pose_matches_the_rendered_pose_and_faces_the_camera(camera):
    board, views = free_board_views(camera, 6, seed=1)
    for image, camera_from_board in views:
        found, why = board_pose(detect(board, image), camera.K, np.zeros(5))
        assert found is not None, why
        assert np.linalg.norm(found.camera_from_board[:3, 3] - camera_from_board[:3, 3]) < 0.002
        assert found.camera_from_board[:3, 2] @ found.camera_from_board[:3, 3] > 0  # not the flipped solution


def test_too_few_views_or_no_board_are_named():
    board = CharucoBoardSpec()
    with pytest.raises(CalibrationError, match="the board was seen in 2 of 9 views; intrinsics need 6"):
        calibrate_intrinsics([None] * 7 + [detect(board, np.pad(board.image(), 40, constant_values=255))] * 2, W, H)


def synthetic_hand_eye(rotation_axes, n: int = 10, seed: int = 0):
    """TCP poses and the board poses a fixed camera would see with the board held at the TCP."""
    rng = np.random.default_rng(seed)
    base_from_camera = pose(from_rotation_vector([2.2, 0.3, 0.1]), [0.95, 0.35, 0.6])
    tcp_from_board = pose(from_rotation_vector([0.1, -1.5, 0.2]), [0.06, -0.09, -0.1])
    tcps, boards = [], []
    for _ in range(n):
        axis = rotation_axes[rng.integers(len(rotation_axes))]
        T = pose(from_rotation_vector(np.asarray(axis) * rng.uniform(-0.5, 0.5)) @ np.diag([1.0, -1.0, -1.0]),
                 [0.6, 0.1, 0.3] + rng.uniform(-0.1, 0.1, 3))
        tcps.append(T)
        boards.append(np.linalg.inv(base_from_camera) @ T @ tcp_from_board)
    return tcps, boards, base_from_camera


def test_hand_eye_recovers_a_synthetic_camera_with_every_method_and_refuses_bad_motion():
    tcps, boards, truth = synthetic_hand_eye([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    result = solve_hand_eye(tcps, boards, "eye-to-hand")
    assert {s.method for s in result.solutions} == {"tsai", "park", "horaud", "andreff", "daniilidis", "li", "shah"}
    for s in result.solutions:  # exact data: every method exact
        assert np.linalg.norm(s.matrix[:3, 3] - truth[:3, 3]) < 1e-4 and s.residual_mm < 0.1, s.method
    with pytest.raises(CalibrationError, match="degenerate motion: every rotation between poses is about one axis"):
        solve_hand_eye(*synthetic_hand_eye([[0, 0, 1]])[:2], "eye-to-hand")
    with pytest.raises(CalibrationError, match="3 poses with the board seen; hand-eye needs at least 6"):
        solve_hand_eye(tcps[:3], boards[:3], "eye-to-hand")
