"""Camera: what every camera implements (the sim's scene camera, RealSense, OpenCV).

`read()` blocks until the next frame and returns color (uint8 H x W x 3, RGB) and, for depth cameras,
depth aligned to color in metres (0 where there is no return), stamped with the exposure's time on the
ROS clock. The camera node publishes them under realsense-ros names. Cameras are found by name through
polyarm_core.registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraIntrinsics:
    width: int
    height: int
    K: np.ndarray  # 3 x 3 pinhole matrix, px
    distortion: tuple = (0.0, 0.0, 0.0, 0.0, 0.0)  # plumb_bob k1 k2 t1 t2 k3
    frame_id: str = "camera_color_optical_frame"  # x right, y down, z forward


@dataclass(frozen=True)
class CameraFrame:
    color: np.ndarray  # uint8 H x W x 3, RGB
    depth: np.ndarray | None  # float32 H x W, metres along the optical axis, aligned to color; None: no depth
    stamp_ns: int


def depth_to_millimetres(depth_m: np.ndarray) -> np.ndarray:
    """RealSense-style 16UC1 depth: millimetres, 0 = no return."""
    return np.clip(np.rint(depth_m * 1000.0), 0, 65535).astype(np.uint16)


class Camera(ABC):
    config_class: type | None = None  # the camera's options (polyarm_core.options); the sim's cameras have none

    @classmethod
    def create(cls, **options) -> Camera:
        """The camera with these options (ValueError names an unknown one)."""
        from polyarm_core.options import make_config

        return cls(make_config(cls.config_class, **options))

    @property
    @abstractmethod
    def intrinsics(self) -> CameraIntrinsics | None:
        """Of the color stream (depth is aligned to it); None for a camera not calibrated yet."""

    @property
    def frame_id(self) -> str:
        return self.intrinsics.frame_id if self.intrinsics is not None else "camera_color_optical_frame"

    def connect(self) -> None:
        """Open the device (raises RuntimeError naming what is missing)."""

    @abstractmethod
    def read(self, timeout: float = 1.0) -> CameraFrame | None:
        """The next frame, or None if none came within `timeout` s."""

    def close(self) -> None:
        """Release the device."""

    def diagnostics(self) -> dict:
        """Camera-specific figures for /diagnostics (dropped frames...)."""
        return {}
