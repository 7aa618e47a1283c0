"""The board's pose in the camera from one view, with the planar board's flip filtered out.

A planar target has two PnP solutions that reproject almost alike (IPPE returns both). A view is kept
only if the better one faces the camera (the printed face, -z of the board, towards it), reprojects
within `max_error_px`, and beats the flipped one clearly; a view where the two cannot be told apart
would put a mirrored pose into hand-eye, so it is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from polyarm_cameras.charuco import BoardView
from polyarm_core.rotations import pose_matrix


@dataclass(frozen=True)
class BoardPose:
    camera_from_board: np.ndarray  # 4 x 4
    error_px: float  # RMS reprojection error
    flip_ratio: float  # the flipped solution's error over this one's (large: unambiguous)


def pnp_pose(rvec, tvec) -> np.ndarray:
    """The 4 x 4 pose of an OpenCV rotation vector and translation."""
    return pose_matrix(cv2.Rodrigues(np.asarray(rvec, dtype=float))[0], tvec)


def board_pose(view: BoardView, K: np.ndarray, distortion, max_error_px: float = 1.5,
               min_flip_ratio: float = 1.5) -> tuple[BoardPose | None, str]:
    """(the pose, "ok"), or (None, why the view is not used)."""
    dist = np.asarray(distortion, dtype=float)
    _, rvecs, tvecs, errors = cv2.solvePnPGeneric(view.board_points, view.pixels, K, dist, flags=cv2.SOLVEPNP_IPPE)
    candidates = sorted(zip(np.ravel(errors), rvecs, tvecs), key=lambda c: c[0])
    facing = [c for c in candidates if _faces_camera(pnp_pose(c[1], c[2]))]
    if not facing:
        return None, "no PnP solution has the board facing the camera"
    error, rvec, tvec = facing[0]
    rvec, tvec = cv2.solvePnPRefineLM(view.board_points, view.pixels, K, dist, rvec.copy(), tvec.copy())
    error = _rms(view, K, dist, rvec, tvec)
    flipped = [c[0] for c in candidates if c[0] > facing[0][0]]
    ratio = float(flipped[0] / max(error, 1e-9)) if flipped else float("inf")
    if error > max_error_px:
        return None, f"reprojection error {error:.2f} px > {max_error_px} px"
    if ratio < min_flip_ratio:
        return None, f"the board's flipped pose fits almost as well ({ratio:.2f}x the error): ambiguous"
    return BoardPose(pnp_pose(rvec, tvec), error, ratio), "ok"


def _faces_camera(camera_from_board: np.ndarray) -> bool:
    """The printed face looks along the board's -z: towards the camera when z points away from it."""
    return float(camera_from_board[:3, 2] @ camera_from_board[:3, 3]) > 0.0


def _rms(view: BoardView, K, dist, rvec, tvec) -> float:
    projected, _ = cv2.projectPoints(view.board_points, rvec, tvec, K, dist)
    return float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - view.pixels) ** 2, axis=1))))
