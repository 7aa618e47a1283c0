"""TargetIntegrator: operator commands (unitless, [-1, 1] per axis) into a TCP target in base_link.

Each step moves the target by the command's deadbanded axes times the speeds, the speed scale and the
step's duration, then clips it to the robot's workspace box (the controller clips too) and to within
`max_lead` of the measured TCP, so a target pushed into the table does not run away from the arm.
Rotations turn about the base axes or the TCP's own (`frame`); translations are always in the base.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from polyarm_core.rotations import from_rotation_vector
from polyarm_core.teleop import TeleopCommand

FRAMES = ("base", "tool")
SPEED_STEP = 1.5  # faster / slower multiply or divide the speed scale by this


@dataclass
class TeleopConfig:
    linear_speed: float = 0.10  # m/s at full deflection and speed scale 1
    angular_speed: float = 0.6  # rad/s at full deflection and speed scale 1
    deadband: float = 0.1  # fraction of full deflection read as zero (a SpaceMouse never rests at exactly 0)
    frame: str = "base"  # rotations about the base axes, or "tool": about the TCP's own
    speed_scale: float = 1.0
    min_speed_scale: float = 0.2
    max_speed_scale: float = 3.0
    max_lead: float = 0.05  # m the target may lead the measured TCP

    def __post_init__(self):
        if self.frame not in FRAMES:
            raise ValueError(f"frame must be one of {FRAMES}, got {self.frame!r}")
        if not 0.0 <= self.deadband < 1.0:
            raise ValueError(f"deadband must be in [0, 1), got {self.deadband}")


def apply_deadband(axes, deadband: float) -> np.ndarray:
    """Zero inside the band, and rescaled outside it so the output still runs continuously from 0 to ±1."""
    axes = np.clip(np.asarray(axes, dtype=float), -1.0, 1.0)
    magnitude = np.maximum(np.abs(axes) - deadband, 0.0) / (1.0 - deadband)
    return np.sign(axes) * magnitude


class TargetIntegrator:
    def __init__(self, workspace_low, workspace_high, config: TeleopConfig | None = None):
        self.low, self.high = np.asarray(workspace_low, dtype=float), np.asarray(workspace_high, dtype=float)
        self.config = config or TeleopConfig()
        self.position: np.ndarray | None = None
        self.rotation: np.ndarray | None = None
        self.gripper = 1.0  # open

    @classmethod
    def for_robot(cls, robot, config: TeleopConfig | None = None) -> TargetIntegrator:
        return cls(robot.workspace_low, robot.workspace_high, config)

    def reset(self, position, rotation) -> None:
        """Start from the measured TCP pose (at connect, after a reset, after the arm was moved otherwise)."""
        self.position = np.clip(np.asarray(position, dtype=float), self.low, self.high)
        self.rotation = np.asarray(rotation, dtype=float).copy()

    def step(self, command: TeleopCommand, dt: float, measured_position=None) -> tuple[np.ndarray, np.ndarray]:
        """The next target after `dt` s of `command`. A released deadman leaves the target where it is."""
        if self.position is None:
            raise RuntimeError("TargetIntegrator.step before reset: no pose to start from")
        self._speed_events(command.events)
        if command.gripper is not None:
            self.gripper = float(np.clip(command.gripper, 0.0, 1.0))
        if not command.enabled:
            return self.position.copy(), self.rotation.copy()
        c = self.config
        velocity = apply_deadband(command.translation, c.deadband) * c.linear_speed * c.speed_scale
        turn = from_rotation_vector(apply_deadband(command.rotation, c.deadband) * c.angular_speed * c.speed_scale * dt)
        position = np.clip(self.position + velocity * dt, self.low, self.high)
        if measured_position is not None:  # within max_lead of the arm
            lead = position - np.asarray(measured_position, dtype=float)
            distance = np.linalg.norm(lead)
            if distance > c.max_lead:
                position = np.clip(np.asarray(measured_position) + lead * (c.max_lead / distance), self.low, self.high)
        self.position = position
        self.rotation = turn @ self.rotation if c.frame == "base" else self.rotation @ turn
        return self.position.copy(), self.rotation.copy()

    def _speed_events(self, events) -> None:
        c = self.config
        for event in events:
            if event == "faster":
                c.speed_scale = min(c.speed_scale * SPEED_STEP, c.max_speed_scale)
            elif event == "slower":
                c.speed_scale = max(c.speed_scale / SPEED_STEP, c.min_speed_scale)
