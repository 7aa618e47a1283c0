"""Hand-eye calibration with every OpenCV method, each with its residual.

- eye-to-hand: a fixed camera, the board held by the gripper. Unknown: the camera in base_link.
- eye-in-hand: a wrist camera, the board fixed on the table. Unknown: the camera in the TCP frame.

calibrateHandEye solves AX = XB with Tsai, Park, Horaud, Andreff and Daniilidis; for eye-to-hand it is
given the TCP's inverse poses (the standard trick: the fixed camera is then the "hand" camera of a
robot moving the world). calibrateRobotWorldHandEye (Li, Shah) solves AX = ZB for the camera and the
board's mount at once. A method's residual is how far the pose that should stay fixed (the board in the
TCP frame for eye-to-hand, in base_link for eye-in-hand) wanders over the views: the RMS of its
translations about their mean, and of its rotations' angles to their mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from polyarm_core.rotations import pose_matrix

from polyarm_calibration.intrinsics import CalibrationError

MODES = ("eye-to-hand", "eye-in-hand")
HAND_EYE = {"tsai": cv2.CALIB_HAND_EYE_TSAI, "park": cv2.CALIB_HAND_EYE_PARK, "horaud": cv2.CALIB_HAND_EYE_HORAUD,
            "andreff": cv2.CALIB_HAND_EYE_ANDREFF, "daniilidis": cv2.CALIB_HAND_EYE_DANIILIDIS}
ROBOT_WORLD = {"li": cv2.CALIB_ROBOT_WORLD_HAND_EYE_LI, "shah": cv2.CALIB_ROBOT_WORLD_HAND_EYE_SHAH}
MIN_POSES = 6
MIN_ROTATION_DEG = 5.0  # a relative motion below this carries no rotation axis


@dataclass(frozen=True)
class HandEyeSolution:
    method: str
    matrix: np.ndarray  # 4 x 4: the camera in base_link (eye-to-hand) or in the TCP frame (eye-in-hand)
    residual_mm: float
    residual_deg: float


@dataclass(frozen=True)
class HandEyeResult:
    mode: str
    best: HandEyeSolution  # the smallest residual
    solutions: list  # every method's, best first


def solve_hand_eye(base_from_tcp: list, camera_from_board: list, mode: str) -> HandEyeResult:
    if mode not in MODES:
        raise CalibrationError(f"unknown hand-eye mode {mode!r}; one of {', '.join(MODES)}")
    if len(base_from_tcp) != len(camera_from_board):
        raise CalibrationError(f"{len(base_from_tcp)} TCP poses but {len(camera_from_board)} board poses")
    if len(base_from_tcp) < MIN_POSES:
        raise CalibrationError(f"{len(base_from_tcp)} poses with the board seen; hand-eye needs at least {MIN_POSES}")
    check_rotation_diversity(base_from_tcp)
    tcp = [np.asarray(T, dtype=float) for T in base_from_tcp]
    board = [np.asarray(T, dtype=float) for T in camera_from_board]
    hand = tcp if mode == "eye-in-hand" else [np.linalg.inv(T) for T in tcp]
    solutions = []
    for name, method in HAND_EYE.items():
        R, t = cv2.calibrateHandEye([T[:3, :3] for T in hand], [T[:3, 3] for T in hand],
                                    [T[:3, :3] for T in board], [T[:3, 3] for T in board], method=method)
        solutions.append(_solution(name, pose_matrix(R, t), tcp, board, mode))
    for name, method in ROBOT_WORLD.items():
        # AX = ZB with A the board in the camera; B the TCP in base_link (eye-to-hand) or its inverse (eye-in-hand)
        moved = tcp if mode == "eye-to-hand" else [np.linalg.inv(T) for T in tcp]
        _, _, R, t = cv2.calibrateRobotWorldHandEye([T[:3, :3] for T in board], [T[:3, 3] for T in board],
                                                    [T[:3, :3] for T in moved], [T[:3, 3] for T in moved], method=method)
        solutions.append(_solution(name, np.linalg.inv(pose_matrix(R, t)), tcp, board, mode))
    solutions.sort(key=lambda s: (s.residual_mm, s.residual_deg))
    return HandEyeResult(mode, solutions[0], solutions)


def check_rotation_diversity(base_from_tcp: list) -> None:
    """Hand-eye needs rotations about at least two different axes; name the motion that lacks them."""
    axes = []
    for a in range(len(base_from_tcp)):
        for b in range(a + 1, len(base_from_tcp)):
            R = base_from_tcp[a][:3, :3].T @ base_from_tcp[b][:3, :3]
            rvec = cv2.Rodrigues(R)[0].ravel()
            if np.degrees(np.linalg.norm(rvec)) >= MIN_ROTATION_DEG:
                axes.append(rvec / np.linalg.norm(rvec))
    if len(axes) < 2:
        raise CalibrationError(f"the TCP barely rotates between poses (under {MIN_ROTATION_DEG:g} degrees): "
                               "hand-eye needs rotation, about at least two axes")
    singular = np.linalg.svd(np.asarray(axes), compute_uv=False)
    if singular[1] < 0.1 * singular[0]:
        raise CalibrationError("degenerate motion: every rotation between poses is about one axis; "
                               "hand-eye needs rotations about at least two axes")


def _solution(method: str, X: np.ndarray, tcp: list, board: list, mode: str) -> HandEyeSolution:
    if mode == "eye-to-hand":  # the board in the TCP frame: TCP^-1 X B
        fixed = [np.linalg.inv(T) @ X @ B for T, B in zip(tcp, board)]
    else:  # the board in base_link: T X B
        fixed = [T @ X @ B for T, B in zip(tcp, board)]
    translations = np.array([F[:3, 3] for F in fixed])
    residual_mm = float(np.sqrt(np.mean(np.sum((translations - translations.mean(axis=0)) ** 2, axis=1)))) * 1000.0
    mean_rotation = _mean_rotation([F[:3, :3] for F in fixed])
    angles = [np.degrees(np.linalg.norm(cv2.Rodrigues(mean_rotation.T @ F[:3, :3])[0])) for F in fixed]
    return HandEyeSolution(method, X, residual_mm, float(np.sqrt(np.mean(np.square(angles)))))


def _mean_rotation(rotations: list) -> np.ndarray:
    """The chordal mean: the rotation nearest the average matrix."""
    U, _, Vt = np.linalg.svd(np.mean(rotations, axis=0))
    R = U @ Vt
    return R if np.linalg.det(R) > 0 else U @ np.diag([1.0, 1.0, -1.0]) @ Vt
