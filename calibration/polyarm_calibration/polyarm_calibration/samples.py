"""Calibration samples on disk, written one by one as they are taken, so an interrupted session keeps
what it collected and the solve can run again from them (`polyarm calibrate ... --from DIR`).

    DIR/session.yaml     robot, mode, the board
    DIR/samples/007.png  the camera frame (RGB)
    DIR/samples/007.yaml the TCP in base_link when it was taken, the camera's intrinsics then, the stamps
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml
from polyarm_cameras.charuco import CharucoBoardSpec
from polyarm_core.camera import CameraIntrinsics
from polyarm_core.rotations import matrix_to_quat, pose_matrix, quat_to_matrix

from polyarm_calibration.intrinsics import CalibrationError


@dataclass(frozen=True)
class Session:
    robot: str
    mode: str  # intrinsics, eye-to-hand or eye-in-hand
    board: CharucoBoardSpec


@dataclass(frozen=True)
class Sample:
    index: int
    image: np.ndarray  # RGB
    base_from_tcp: np.ndarray  # 4 x 4
    intrinsics: CameraIntrinsics | None  # the camera_info at the time, if the camera had one


def write_session(directory: Path, session: Session) -> None:
    (directory / "samples").mkdir(parents=True, exist_ok=True)
    data = {"robot": session.robot, "mode": session.mode, "board": asdict(session.board)}
    (directory / "session.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def read_session(directory: Path) -> Session:
    path = directory / "session.yaml"
    if not path.is_file():
        raise CalibrationError(f"{directory} holds no calibration session (no session.yaml)")
    data = yaml.safe_load(path.read_text())
    return Session(data["robot"], data["mode"], CharucoBoardSpec(**data["board"]))


def write_sample(directory: Path, sample: Sample) -> None:
    stem = directory / "samples" / f"{sample.index:03d}"
    cv2.imwrite(str(stem.with_suffix(".png")), cv2.cvtColor(sample.image, cv2.COLOR_RGB2BGR))
    T = sample.base_from_tcp
    data = {"tcp_translation": T[:3, 3].tolist(), "tcp_rotation_xyzw": matrix_to_quat(T[:3, :3]).tolist()}
    if sample.intrinsics is not None:
        k = sample.intrinsics
        data["camera"] = {"width": k.width, "height": k.height, "K": np.asarray(k.K).ravel().tolist(),
                          "distortion": list(k.distortion)}
    stem.with_suffix(".yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def read_samples(directory: Path) -> list[Sample]:
    samples = []
    for path in sorted((directory / "samples").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        image = cv2.imread(str(path.with_suffix(".png")), cv2.IMREAD_COLOR)
        if image is None:
            raise CalibrationError(f"{path.with_suffix('.png')} is missing or not an image")
        T = pose_matrix(quat_to_matrix(data["tcp_rotation_xyzw"]), data["tcp_translation"])
        camera = data.get("camera")
        intrinsics = None if camera is None else CameraIntrinsics(
            camera["width"], camera["height"], np.reshape(camera["K"], (3, 3)), tuple(camera["distortion"]))
        samples.append(Sample(int(path.stem), cv2.cvtColor(image, cv2.COLOR_BGR2RGB), T, intrinsics))
    return samples
