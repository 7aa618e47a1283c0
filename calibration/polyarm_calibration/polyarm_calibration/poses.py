"""Calibration poses: N well-spread TCP targets with the board in view and rotations about many axes
(hand-eye needs them; a set rotated about one axis is degenerate)."""

from __future__ import annotations

import numpy as np
from polyarm_core.rotations import from_rotation_vector, pose_matrix


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.linalg.norm(v)


def _jitter(direction: np.ndarray, max_deg: float, rng: np.random.Generator) -> np.ndarray:
    """`direction` tipped by up to `max_deg` about a random axis normal to it."""
    axis = np.cross(direction, rng.normal(size=3))
    return from_rotation_vector(_unit(axis) * np.radians(rng.uniform(0.0, max_deg))) @ direction


def eye_to_hand_targets(n: int, camera_position, centre, rng: np.random.Generator, spread=(0.08, 0.1, 0.06),
                        tilt_deg: float = 20.0, roll_deg: float = 40.0, max_elevation_deg: float = 15.0) -> list[np.ndarray]:
    """TCP targets around `centre` with the held board's face (along the TCP's x) towards the camera,
    tipped and rolled at random, the gripper otherwise pointing down. The face is raised at most
    `max_elevation_deg` above the horizontal (a camera above sees it obliquely): facing a camera high
    above, the gripper would have to tip over, to poses the arm reaches badly or not at all."""
    targets = []
    for _ in range(n):
        p = np.asarray(centre, dtype=float) + rng.uniform(-1.0, 1.0, 3) * np.asarray(spread)
        towards = _unit(np.asarray(camera_position) - p)
        horizontal = _unit([towards[0], towards[1], 0.0])
        elevation = min(np.arcsin(towards[2]), np.radians(max_elevation_deg))
        x = _jitter(np.cos(elevation) * horizontal + np.array([0.0, 0.0, np.sin(elevation)]), tilt_deg, rng)
        down = np.array([0.0, 0.0, -1.0])
        z = _unit(down - (down @ x) * x)
        z = from_rotation_vector(x * np.radians(rng.uniform(-roll_deg, roll_deg))) @ z
        targets.append(pose_matrix(np.column_stack([x, np.cross(z, x), z]), p))
    return targets


def eye_in_hand_targets(n: int, board_centre, tcp_from_camera: np.ndarray, rng: np.random.Generator,
                        distance=(0.3, 0.42), max_tilt_deg: float = 30.0, roll_deg: float = 60.0) -> list[np.ndarray]:
    """TCP targets that put the wrist camera on a cap above the board looking at its centre, from up to
    `max_tilt_deg` off the vertical, at random rolls about the optical axis."""
    targets, centre = [], np.asarray(board_centre, dtype=float)
    for _ in range(n):
        view = _jitter(np.array([0.0, 0.0, -1.0]), max_tilt_deg, rng)  # the optical axis, camera to board
        camera = centre - view * rng.uniform(*distance)
        x = _unit(np.cross(view, [0.0, 1.0, 0.0]) if abs(view[1]) < 0.9 else np.cross(view, [1.0, 0.0, 0.0]))
        x = from_rotation_vector(view * np.radians(rng.uniform(-roll_deg, roll_deg))) @ x
        base_from_camera = pose_matrix(np.column_stack([x, np.cross(view, x), view]), camera)
        targets.append(base_from_camera @ np.linalg.inv(tcp_from_camera))
    return targets
