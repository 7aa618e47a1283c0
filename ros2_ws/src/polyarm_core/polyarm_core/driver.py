"""RobotDriver: what every arm's driver implements (the sim's, franky's, the xArm SDK's, Dynamixel's).

In the style of ros2_control's hardware interface: `read()` returns the latest measured joint state,
`write()` sends one command in the robot's own command interface, and the loop that calls them (the
driver node's, or polyarm_control.loop.ControlLoop's) owns the timing. A command the robot would refuse
(wrong joints, NaN, outside the limits) raises CommandRefused naming the problem, and the last good
command stays in force. Drivers are found by name through polyarm_core.registry.

A driver's options are one dataclass, `config_class` (polyarm_core.options): the node's ROS parameters and
`polyarm driver`'s flags come from it. What a driver can do beyond reading and writing is declared in
CAPABILITIES, so the node and the bringup ask the class instead of guessing with hasattr.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

COMMAND_INTERFACES = ("effort", "position")
# capability: what it means (the methods a driver that declares it overrides)
CAPABILITIES = {
    "home": "home(joints): a slow joint-space move to a pose (driver/home)",
    "recover": "recover() -> str: clear the robot's error after a reflex or fault, when the operator asks (driver/recover)",
    "servo_bus": "reboot() -> str and set_torque(on) -> str: reboot faulted servos, torque on or off (driver/reboot, driver/torque)",
    "realtime_loop": "start_loop(tick), stop_loop(), loop_rate_hz: runs the controller's law in the driver's own "
                     "real-time loop (controller in-driver)",
}


class CommandRefused(ValueError):
    """A joint or gripper command the robot would refuse; the message names the problem."""


class DriverError(RuntimeError):
    """The robot cannot be reached or has stopped (a lost connection, a fault); the message says which."""


@dataclass(frozen=True)
class JointReading:
    """One measurement of every joint the driver publishes: the arm's joints, then the fingers'."""

    names: tuple[str, ...]
    position: np.ndarray  # rad, or m for the fingers
    velocity: np.ndarray
    effort: np.ndarray  # N m, or N
    gripper_opening: float  # 0 closed .. 1 open
    stamp_ns: int  # when it was measured, on the ROS clock the driver was given


@dataclass(frozen=True)
class NoOptions:
    """A driver with no options of its own."""


class RobotDriver(ABC):
    """One arm and its gripper. Subclasses set `robot` (its polyarm_description profile) in __init__, which
    takes the profile and an instance of `config_class`."""

    robot = None  # RobotProfile: joint names, command interface, gravity compensation, gripper range
    config_class: type = NoOptions  # the driver's options (polyarm_core.options)
    capabilities: frozenset[str] = frozenset()  # keys of CAPABILITIES this driver implements

    @classmethod
    def create(cls, robot, **options) -> RobotDriver:
        """The driver for `robot` with these options (ValueError names an unknown one)."""
        from polyarm_core.options import make_config

        return cls(robot, make_config(cls.config_class, **options))

    @classmethod
    def can(cls, capability: str) -> bool:
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown driver capability {capability!r}; valid: {', '.join(CAPABILITIES)}")
        return capability in cls.capabilities

    @property
    def command_interface(self) -> str:
        """"effort" (joint torques) or "position" (servo targets)."""
        return self.robot.command_interface

    @property
    def gravity_compensated(self) -> bool:
        """Whether the robot cancels its own gravity, so a controller must leave it out (libfranka does)."""
        return self.robot.gravity_compensated

    @abstractmethod
    def connect(self) -> None:
        """Open the connection and bring the robot to a state that takes commands (raises DriverError)."""

    @abstractmethod
    def read(self) -> JointReading:
        """The latest joint state."""

    @abstractmethod
    def write(self, names, values) -> None:
        """One command for the arm's joints (any order), in the command interface's unit (raises CommandRefused)."""

    @abstractmethod
    def command_gripper(self, opening: float) -> None:
        """Move the gripper: 0 closed .. 1 open (raises CommandRefused for NaN)."""

    @abstractmethod
    def stop(self) -> None:
        """Stop the arm and hold it still where it is, until the next command."""

    @abstractmethod
    def close(self) -> None:
        """Stop, leave the arm holding still, and release the connection."""

    def diagnostics(self) -> dict:
        """Driver-specific figures for /diagnostics (robot mode, last error...)."""
        return {}


def validate_command(robot, names, values, low, high) -> np.ndarray:
    """A joint command in the profile's joint order, checked: exactly the arm's joints (any order), finite,
    within [low, high] per joint (the position or the torque limits of the robot's command interface).
    Raises CommandRefused naming each problem."""
    names, values = list(names), np.asarray(values, dtype=float)
    expected = list(robot.arm_joints)
    if values.ndim != 1 or len(values) != len(names):
        raise CommandRefused(f"command has {len(names)} joint names but {values.size} values")
    if sorted(names) != sorted(expected):
        raise CommandRefused(f"command joints {names} do not match {robot.name}'s joints {expected}")
    if not np.all(np.isfinite(values)):
        bad = [n for n, v in zip(names, values) if not np.isfinite(v)]
        raise CommandRefused(f"command is not finite for joints {bad}")
    ordered = np.empty(len(expected))
    ordered[[expected.index(n) for n in names]] = values
    outside = (ordered < np.asarray(low) - 1e-9) | (ordered > np.asarray(high) + 1e-9)
    if np.any(outside):
        what = "position" if robot.command_interface == "position" else "torque"
        bad = [f"{expected[i]}={ordered[i]:.4g} not in [{low[i]:.4g}, {high[i]:.4g}]" for i in np.flatnonzero(outside)]
        raise CommandRefused(f"{what} command outside the limits: {', '.join(bad)}")
    return ordered
