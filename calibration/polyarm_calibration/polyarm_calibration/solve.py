"""The solve, from saved samples to the files the camera and perception nodes read.

Files are written only after a solve succeeds: a bad session (too few views, a board never seen,
degenerate motion) raises CalibrationError naming the problem and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from polyarm_cameras.calibration_files import CameraPose, read_camera_info, write_camera_info, write_camera_pose
from polyarm_cameras.charuco import detect
from polyarm_core.camera import CameraIntrinsics

from polyarm_calibration.board_pose import board_pose
from polyarm_calibration.hand_eye import HandEyeResult, solve_hand_eye
from polyarm_calibration.intrinsics import CalibrationError, IntrinsicsResult, calibrate_intrinsics
from polyarm_calibration.samples import Sample, Session

INTRINSICS_FILE, POSE_FILE = "intrinsics.yaml", "camera_pose.yaml"
CAMERA_FRAME = "camera_color_optical_frame"


def solve_intrinsics(session: Session, samples: list[Sample], out: Path) -> IntrinsicsResult:
    if not samples:
        raise CalibrationError("no samples to calibrate from")
    views = [detect(session.board, s.image) for s in samples]
    if not any(v is not None for v in views):
        raise CalibrationError(f"the board was not seen in any of the {len(samples)} views")
    height, width = samples[0].image.shape[:2]
    result = calibrate_intrinsics(views, width, height)
    write_camera_info(out / INTRINSICS_FILE, result.intrinsics, f"{session.robot}_camera",
                      extra={"reprojection_rms_px": result.rms_px,
                             "views": {int(samples[i].index): round(e, 4) for i, e in result.view_errors_px.items()},
                             "dropped_views": {int(samples[i].index): why for i, why in result.dropped.items()}})
    return result


def solve_hand_eye_session(session: Session, samples: list[Sample], out: Path,
                           intrinsics_file: str = "") -> tuple[HandEyeResult, dict]:
    """The camera's pose (in base_link, or in the TCP frame for a wrist camera), every method's result
    and residual, and the views that were dropped and why."""
    if not samples:
        raise CalibrationError("no samples to calibrate from")
    k = read_camera_info(intrinsics_file) if intrinsics_file else samples[0].intrinsics
    if k is None:
        raise CalibrationError("no intrinsics: the camera published no camera_info; give --intrinsics FILE")
    tcp, boards, dropped = [], [], {}
    for sample in samples:
        view = detect(session.board, sample.image)
        if view is None:
            dropped[sample.index] = "board not seen"
            continue
        pose, why = board_pose(view, k.K, k.distortion)
        if pose is None:
            dropped[sample.index] = why
            continue
        tcp.append(sample.base_from_tcp)
        boards.append(pose.camera_from_board)
    if not tcp:
        raise CalibrationError(f"the board was not seen in any of the {len(samples)} views")
    result = solve_hand_eye(tcp, boards, session.mode)
    parent = "base_link" if session.mode == "eye-to-hand" else "tcp"
    extra = {"mode": session.mode, "method": result.best.method, "residual_mm": round(result.best.residual_mm, 4),
             "residual_deg": round(result.best.residual_deg, 5), "poses_used": len(tcp),
             "dropped_views": dropped, "methods": {s.method: _method_entry(s) for s in result.solutions}}
    write_camera_pose(out / POSE_FILE, CameraPose(parent, CAMERA_FRAME, result.best.matrix), extra)
    return result, dropped


def _method_entry(solution) -> dict:
    return {"translation": [round(float(v), 6) for v in solution.matrix[:3, 3]],
            "residual_mm": round(solution.residual_mm, 4), "residual_deg": round(solution.residual_deg, 5)}


def intrinsics_of(k: CameraIntrinsics) -> str:
    return f"fx {k.K[0, 0]:.2f}, fy {k.K[1, 1]:.2f}, cx {k.K[0, 2]:.2f}, cy {k.K[1, 2]:.2f}, distortion {np.round(k.distortion, 4).tolist()}"
