"""The calibration files, in the formats ROS users already have.

- Intrinsics: the camera_info YAML of `camera_calibration_parsers` (what `camera_calibration` writes and
  realsense-ros and image_proc read): image_width, image_height, camera_name, camera_matrix,
  distortion_model, distortion_coefficients, rectification_matrix, projection_matrix.
- A camera's pose (hand-eye): parent_frame, child_frame, translation [x, y, z] in metres and
  rotation_xyzw, plus whatever the calibration adds (method, residuals).

The camera node reads the first, the perception node the second. Each reader names the file and the
key at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from polyarm_core.camera import CameraIntrinsics
from polyarm_core.rotations import matrix_to_quat, pose_matrix, quat_to_matrix


class CalibrationFileError(ValueError):
    pass


@dataclass(frozen=True)
class CameraPose:
    parent_frame: str  # base_link (eye-to-hand) or the TCP frame (eye-in-hand)
    child_frame: str  # the camera's optical frame
    matrix: np.ndarray  # 4 x 4: the child frame in the parent frame


def _load(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CalibrationFileError(f"calibration file {path} does not exist")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise CalibrationFileError(f"{path} is not YAML: {err}") from None
    if not isinstance(data, dict):
        raise CalibrationFileError(f"{path} holds no mapping of calibration keys")
    return data


def _matrix(data: dict, key: str, rows: int, cols: int, path) -> np.ndarray:
    try:
        values = np.asarray(data[key]["data"], dtype=float)
    except (KeyError, TypeError, ValueError):
        raise CalibrationFileError(f"{path}: {key} needs a 'data' list of {rows * cols} numbers") from None
    if values.size != rows * cols:
        raise CalibrationFileError(f"{path}: {key} has {values.size} values, {rows}x{cols} needs {rows * cols}")
    return values.reshape(rows, cols)


def read_camera_info(path, frame_id: str = "camera_color_optical_frame") -> CameraIntrinsics:
    data = _load(path)
    missing = [k for k in ("image_width", "image_height", "camera_matrix", "distortion_coefficients") if k not in data]
    if missing:
        raise CalibrationFileError(f"{path}: missing key(s) {missing} of a camera_info file")
    model = data.get("distortion_model", "plumb_bob")
    if model != "plumb_bob":
        raise CalibrationFileError(f"{path}: distortion_model {model!r}; polyarm reads plumb_bob")
    distortion = _matrix(data, "distortion_coefficients", 1, 5, path)  # plumb_bob: k1 k2 t1 t2 k3
    return CameraIntrinsics(int(data["image_width"]), int(data["image_height"]), _matrix(data, "camera_matrix", 3, 3, path),
                            tuple(distortion.ravel().tolist()), frame_id)


def write_camera_info(path, intrinsics: CameraIntrinsics, camera_name: str, extra: dict | None = None) -> Path:
    K = np.asarray(intrinsics.K, dtype=float)
    d = [float(v) for v in intrinsics.distortion]
    data = {
        "image_width": intrinsics.width, "image_height": intrinsics.height, "camera_name": camera_name,
        "camera_matrix": {"rows": 3, "cols": 3, "data": K.ravel().tolist()},
        "distortion_model": "plumb_bob",
        "distortion_coefficients": {"rows": 1, "cols": len(d), "data": d},
        "rectification_matrix": {"rows": 3, "cols": 3, "data": np.eye(3).ravel().tolist()},
        "projection_matrix": {"rows": 3, "cols": 4, "data": np.hstack([K, np.zeros((3, 1))]).ravel().tolist()},
        **(extra or {}),
    }
    path = Path(path)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def read_camera_pose(path) -> CameraPose:
    data = _load(path)
    missing = [k for k in ("parent_frame", "child_frame", "translation", "rotation_xyzw") if k not in data]
    if missing:
        raise CalibrationFileError(f"{path}: missing key(s) {missing} of a camera pose file")
    t, q = np.asarray(data["translation"], dtype=float), np.asarray(data["rotation_xyzw"], dtype=float)
    if t.shape != (3,) or q.shape != (4,) or not np.all(np.isfinite(np.concatenate([t, q]))):
        raise CalibrationFileError(f"{path}: translation needs 3 numbers and rotation_xyzw 4, got {t.tolist()}, {q.tolist()}")
    if abs(np.linalg.norm(q) - 1.0) > 1e-3:
        raise CalibrationFileError(f"{path}: rotation_xyzw {q.tolist()} is not a unit quaternion")
    T = pose_matrix(quat_to_matrix(q / np.linalg.norm(q)), t)
    return CameraPose(str(data["parent_frame"]), str(data["child_frame"]), T)


def write_camera_pose(path, pose: CameraPose, extra: dict | None = None) -> Path:
    data = {"parent_frame": pose.parent_frame, "child_frame": pose.child_frame,
            "translation": [float(v) for v in pose.matrix[:3, 3]],
            "rotation_xyzw": [float(v) for v in matrix_to_quat(pose.matrix[:3, :3])], **(extra or {})}
    path = Path(path)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
