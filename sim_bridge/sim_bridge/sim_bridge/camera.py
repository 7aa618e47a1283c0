"""A fixed eye-to-hand pinhole camera: intrinsics, pose, and the frames MuJoCo and ROS use for it."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from polyarm_core.rotations import look_at_optical
from polyarm_description import RobotProfile

# A wrist camera's default pose in the TCP frame (position, look_at): 6 cm to the side of the fingers and
# 8 cm behind the TCP, looking along the gripper.
WRIST_CAMERA = ((0.06, 0.0, -0.08), (0.06, 0.0, 0.3))


@dataclass(frozen=True)
class CameraConfig:
    width: int = 320
    height: int = 240
    # Focal lengths and principal point in pixels; None means a RealSense D435-like default
    # (fx = fy = 0.96 * width, principal point at the image centre).
    fx: float | None = None
    fy: float | None = None
    cx: float | None = None
    cy: float | None = None
    position: tuple[float, float, float] = (1.5, 0.6, 1.5)
    look_at: tuple[float, float, float] = (0.3, 0.0, 0.1)
    rate_hz: float = 15.0
    max_depth_m: float = 6.0  # beyond this, depth reads 0 (no return), as on a RealSense
    frame_id: str = "camera_color_optical_frame"
    name: str = field(default="scene_camera")
    # "world": fixed in the scene (eye-to-hand); "wrist": on the TCP, position and look_at in the TCP frame
    # with the TCP's -x as the image's up (eye-in-hand)
    mount: str = "world"

    @classmethod
    def for_robot(cls, robot: RobotProfile, **overrides) -> "CameraConfig":
        """The robot profile's default view: the camera looks at the middle of the arm's tabletop workspace."""
        position, look_at = robot.camera_view
        return replace(cls(position=position, look_at=look_at), **overrides)

    @classmethod
    def perception_view(cls, robot: RobotProfile, **overrides) -> "CameraConfig":
        """The profile's depth camera for perception (every scene has it, as "perception_camera"); its
        intrinsics are resolution-free (the default's), so one model camera serves every size."""
        position, look_at = robot.perception_camera_view
        return replace(cls(position=position, look_at=look_at, name="perception_camera"), **overrides)

    def __post_init__(self):
        if self.width < 8 or self.height < 8:
            raise ValueError(f"camera resolution {self.width}x{self.height} is too small")
        if self.rate_hz <= 0:
            raise ValueError(f"camera rate must be positive, got {self.rate_hz}")
        forward = np.subtract(self.look_at, self.position)
        if np.linalg.norm(forward) < 1e-6:
            raise ValueError("camera position and look_at coincide")
        if self.mount not in ("world", "wrist"):
            raise ValueError(f"camera mount must be world or wrist, got {self.mount!r}")
        up = (-1.0, 0.0, 0.0) if self.mount == "wrist" else (0.0, 0.0, 1.0)
        if np.linalg.norm(np.cross(forward, up)) < 1e-6:
            raise ValueError("camera looks straight up or down (along its up direction); tilt look_at a little")

    @property
    def K(self) -> np.ndarray:
        fx = self.fx if self.fx else 0.96 * self.width
        fy = self.fy if self.fy else fx
        cx = self.cx if self.cx is not None else self.width / 2.0
        cy = self.cy if self.cy is not None else self.height / 2.0
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])

    def optical_rotation(self) -> np.ndarray:
        """Parent-from-camera rotation in the ROS optical convention (x right, y down, z forward)."""
        return look_at_optical(self.position, self.look_at, up=(-1.0, 0.0, 0.0) if self.mount == "wrist" else (0.0, 0.0, 1.0))

    def mujoco_rotation(self) -> np.ndarray:
        """World-from-camera rotation in MuJoCo's convention (x right, y up, looking along -z)."""
        return self.optical_rotation() @ np.diag([1.0, -1.0, -1.0])

    def project(self, points_world: np.ndarray) -> np.ndarray:
        """Pixel coordinates (u, v) and depth of world points, by the pinhole model."""
        p_cam = (np.atleast_2d(points_world) - np.asarray(self.position)) @ self.optical_rotation()
        uvw = p_cam @ self.K.T
        return np.column_stack([uvw[:, :2] / uvw[:, 2:3], p_cam[:, 2]])
