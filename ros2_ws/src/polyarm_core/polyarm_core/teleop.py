"""TeleopDevice: what every teleoperation device implements (keyboard, gamepad, SpaceMouse).

`read()` returns the operator's command since the last read: a TCP motion (a unitless delta in
[-1, 1] per axis, scaled to metres and radians by the teleop session), the gripper, and the buttons
pressed (episode events). Devices are found by name through polyarm_core.registry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

EVENTS = ("start", "success", "failure", "discard", "reset", "quit", "faster", "slower")


@dataclass(frozen=True)
class TeleopCommand:
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # x y z, each in [-1, 1]
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # roll pitch yaw rates, each in [-1, 1]
    gripper: float | None = None  # 0 close .. 1 open; None: unchanged
    events: tuple[str, ...] = ()  # of EVENTS, in the order pressed
    enabled: bool = True  # False while a deadman button is released: nothing may move


class TeleopDevice(ABC):
    def connect(self) -> None:
        """Open the device (raises RuntimeError naming the missing device or permission)."""

    @abstractmethod
    def read(self) -> TeleopCommand:
        """The operator's command since the last read (never blocks)."""

    def close(self) -> None:
        """Release the device."""
