"""From targets that arrive at 2-30 Hz to a smooth reference at the controller rate.

A target is checked (finite, right frame, a real rotation), clipped to the workspace box, and then
approached from the current reference over the measured target period, along a min-jerk (or linear)
profile, with the change per tick bounded: a top speed, and an acceleration limit with the braking
speed it implies (sqrt(2 a d) for the distance d left to the target), so the reference never stops
dead. (Without the braking limit, a reference catching up at its top speed stopped within one tick on
reaching the target: the damping term turned that into a torque step of 9-18 N m within a millisecond
on franky-sim, bench/bench_franky.py.) Holding freezes the reference where it is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from polyarm_core.rotations import from_rotation_vector, orientation_error, quat_to_matrix

PROFILES = ("min_jerk", "linear")


class TargetError(ValueError):
    """A target the controller refuses; the arm keeps its pose."""


@dataclass(frozen=True)
class Pose:
    position: np.ndarray
    rotation: np.ndarray


@dataclass(frozen=True)
class Workspace:
    low: np.ndarray
    high: np.ndarray

    def __post_init__(self):
        if not np.all(np.asarray(self.low) < np.asarray(self.high)):
            raise ValueError(f"workspace low {self.low} must be below high {self.high}")

    def clip(self, position: np.ndarray) -> tuple[np.ndarray, bool]:
        clipped = np.clip(position, self.low, self.high)
        return clipped, bool(np.any(clipped != position))


def validate_target(position, quaternion_xyzw, frame_id: str, expected_frame: str) -> Pose:
    position, quaternion = np.asarray(position, dtype=float), np.asarray(quaternion_xyzw, dtype=float)
    if not (np.all(np.isfinite(position)) and np.all(np.isfinite(quaternion))):
        raise TargetError(f"target is not finite: position {position}, orientation {quaternion}")
    if frame_id != expected_frame:
        raise TargetError(f"target is in frame {frame_id!r}, the controller takes {expected_frame!r}")
    norm = np.linalg.norm(quaternion)
    if not 0.9 < norm < 1.1:
        raise TargetError(f"target orientation is not a unit quaternion (norm {norm:.3g})")
    return Pose(position, quat_to_matrix(quaternion / norm))


def min_jerk(s: float) -> float:
    s = min(max(s, 0.0), 1.0)
    return s * s * s * (10.0 - 15.0 * s + 6.0 * s * s)


class ReferenceInterpolator:
    def __init__(self, profile: str = "min_jerk", default_period: float = 0.5, max_linear_speed: float = 0.3,
                 max_angular_speed: float = 1.5, period_bounds: tuple[float, float] = (1 / 30, 1.0),
                 max_linear_acceleration: float = 3.0, max_angular_acceleration: float = 15.0):
        if profile not in PROFILES:
            raise ValueError(f"unknown interpolation profile {profile!r}; valid: {', '.join(PROFILES)}")
        self.profile, self.default_period = profile, default_period
        self.max_linear_speed, self.max_angular_speed = max_linear_speed, max_angular_speed
        self.max_linear_acceleration, self.max_angular_acceleration = max_linear_acceleration, max_angular_acceleration
        self.period_bounds = period_bounds
        self.reference: Pose | None = None
        self.target: Pose | None = None
        self._start: Pose | None = None
        self._t_start = self._last_target_time = None
        self.period = default_period
        self.velocity = np.zeros(6)  # of the reference: linear (m/s) over angular (rad/s), base frame

    def reset(self, pose: Pose, now: float) -> None:
        """Hold `pose` exactly: no jump at start or after an e-stop."""
        self.reference = self.target = self._start = pose
        self._t_start, self._last_target_time, self.period = now, None, self.default_period
        self.velocity = np.zeros(6)

    def set_target(self, pose: Pose, now: float) -> None:
        if self._last_target_time is not None:
            measured = np.clip(now - self._last_target_time, *self.period_bounds)
            self.period = 0.7 * self.period + 0.3 * measured  # smooth out arrival jitter
        self._last_target_time = now
        self._start, self.target, self._t_start = self.reference, pose, now

    def hold(self, now: float) -> None:
        """Freeze the reference where it is now."""
        self._start = self.target = self.reference
        self._t_start = now

    def update(self, now: float, dt: float) -> Pose:
        if self.reference is self.target:  # arrived (or holding): nothing moves
            self.velocity = np.zeros(6)
            return self.reference
        s = (now - self._t_start) / max(self.period, 1e-6)
        s = min_jerk(s) if self.profile == "min_jerk" else min(max(s, 0.0), 1.0)
        start, target = self._start, self.target
        position = start.position + s * (target.position - start.position)
        rotation = from_rotation_vector(s * orientation_error(target.rotation, start.rotation)) @ start.rotation
        step, turn = self._limited_step(Pose(position, rotation), dt)
        previous = self.reference
        self.reference = Pose(previous.position + step, from_rotation_vector(turn) @ previous.rotation)
        self.velocity = np.concatenate([step, turn]) / dt
        if s >= 1.0 and np.array_equal(self.reference.position, target.position) and not np.any(turn):
            self.reference = self.target  # arrived exactly
        return self.reference

    def _limited_step(self, desired: Pose, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """The step toward `desired`, bounded in speed and acceleration, and slow enough to brake before the target."""
        ref, target = self.reference, self.target
        step = _bounded(desired.position - ref.position, self.velocity[:3] * dt, dt, self.max_linear_speed,
                        self.max_linear_acceleration, np.linalg.norm(target.position - ref.position))
        turn = _bounded(orientation_error(desired.rotation, ref.rotation), self.velocity[3:] * dt, dt,
                        self.max_angular_speed, self.max_angular_acceleration,
                        np.linalg.norm(orientation_error(target.rotation, ref.rotation)))
        return step, turn


def _bounded(step: np.ndarray, previous: np.ndarray, dt: float, speed: float, acceleration: float,
             remaining: float) -> np.ndarray:
    """`step` changed from the previous one by at most a dt^2 (a new min-jerk segment starts from rest:
    the reference keeps its velocity instead), then capped at `speed` and at the braking speed
    sqrt(2 a remaining), which is what may slow it faster: only to stop on the target."""
    change = step - previous
    max_change = acceleration * dt * dt
    if np.linalg.norm(change) > max_change:
        step = previous + change * (max_change / np.linalg.norm(change))
    cap = min(speed, np.sqrt(2.0 * acceleration * remaining)) * dt
    norm = np.linalg.norm(step)
    return step * (cap / norm) if norm > cap else step
