"""Camera intrinsics from ChArUco views (OpenCV's calibrateCamera), with each view's reprojection error;
views above the threshold are dropped, named, and the solve runs again without them."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from polyarm_cameras.charuco import BoardView
from polyarm_core.camera import CameraIntrinsics

MIN_VIEWS = 6


class CalibrationError(ValueError):
    pass


@dataclass(frozen=True)
class IntrinsicsResult:
    intrinsics: CameraIntrinsics
    rms_px: float
    view_errors_px: dict  # view index -> RMS reprojection error, of the views used
    dropped: dict  # view index -> why it was not used


def calibrate_intrinsics(views: list[BoardView | None], width: int, height: int,
                         max_view_error_px: float = 1.0) -> IntrinsicsResult:
    """Pinhole + radial k1, k2 (k3 and the tangential terms fixed at 0: a RealSense or webcam lens needs no
    more, and freeing them lets the principal point wander by pixels, found on the sim's camera) from board views;
    None for a view whose board was not seen."""
    dropped = {i: "board not seen" for i, v in enumerate(views) if v is None}
    used = {i: v for i, v in enumerate(views) if v is not None}
    if len(used) < MIN_VIEWS:
        raise CalibrationError(f"the board was seen in {len(used)} of {len(views)} views; intrinsics need {MIN_VIEWS}")
    K, dist, errors = _solve(used, width, height)
    bad = {i: f"reprojection error {e:.2f} px > {max_view_error_px} px" for i, e in errors.items() if e > max_view_error_px}
    if bad:
        dropped.update(bad)
        used = {i: v for i, v in used.items() if i not in bad}
        if len(used) < MIN_VIEWS:
            raise CalibrationError(f"only {len(used)} views reproject within {max_view_error_px} px; intrinsics need {MIN_VIEWS}")
        K, dist, errors = _solve(used, width, height)
    rms = float(np.sqrt(np.mean([e * e for e in errors.values()])))
    return IntrinsicsResult(CameraIntrinsics(width, height, K, tuple(float(d) for d in dist)), rms, errors, dropped)


def _solve(views: dict, width: int, height: int):
    objects = [v.board_points.astype(np.float32) for v in views.values()]
    pixels = [v.pixels.astype(np.float32).reshape(-1, 1, 2) for v in views.values()]
    _, K, dist, rvecs, tvecs = cv2.calibrateCamera(objects, pixels, (width, height), None, None, flags=cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST)
    errors = {}
    for i, obj, pix, r, t in zip(views, objects, pixels, rvecs, tvecs):
        projected, _ = cv2.projectPoints(obj, r, t, K, dist)
        errors[i] = float(np.sqrt(np.mean(np.sum((projected - pix).reshape(-1, 2) ** 2, axis=1))))
    return K, np.ravel(dist)[:5], errors
