"""Joint-space safety terms: keep away from joint limits, respect velocity and torque limits, and a
last check that no command leaves the controller with a NaN or beyond a limit."""

from __future__ import annotations

import numpy as np
from polyarm_description import JointLimits


def joint_limit_torque(q, qd, limits: JointLimits, margin: float, stiffness: float) -> np.ndarray:
    """A spring (N m/rad) that pushes back inside `margin` rad of a position limit, with damping on
    motion toward the limit."""
    into_lower = np.maximum(margin - (q - limits.lower), 0.0)
    into_upper = np.maximum(margin - (limits.upper - q), 0.0)
    tau = stiffness * (into_lower - into_upper)
    damping = 2.0 * np.sqrt(stiffness) * 0.5
    toward = ((into_lower > 0) & (qd < 0)) | ((into_upper > 0) & (qd > 0))
    return tau - np.where(toward, damping * qd, 0.0)


def velocity_limit_torque(qd, limits: JointLimits, M_diag, dt: float, fraction: float = 0.9) -> np.ndarray:
    """Brakes a joint above `fraction` of its velocity limit, removing the excess within one tick."""
    excess = qd - np.clip(qd, -fraction * limits.velocity, fraction * limits.velocity)
    return -M_diag * excess / dt


class CommandGuard:
    """The last gate before a command is published: finite, within the limits, rate-limited."""

    def __init__(self, limits: JointLimits, interface: str, dt: float, position_margin: float = 1e-3):
        self.limits, self.interface, self.dt, self.margin = limits, interface, dt, position_margin
        self.previous: np.ndarray | None = None
        self.corrections = 0

    def reset(self, command: np.ndarray | None) -> None:
        self.previous = None if command is None else np.array(command, dtype=float)

    def __call__(self, command: np.ndarray) -> np.ndarray:
        lim = self.limits
        fallback = self.previous if self.previous is not None else np.zeros_like(command)
        safe = np.where(np.isfinite(command), command, fallback if self.interface == "position" else 0.0)
        if self.interface == "effort":
            safe = np.clip(safe, -lim.effort, lim.effort)
        else:
            safe = np.clip(safe, lim.lower + self.margin, lim.upper - self.margin)
            if self.previous is not None:
                step = lim.velocity * self.dt
                safe = self.previous + np.clip(safe - self.previous, -step, step)
        if not np.array_equal(safe, command):
            self.corrections += 1
        self.previous = safe
        return safe
