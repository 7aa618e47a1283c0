"""ServoArmDriver: what a lab writes to bring its own arm to polyarm, here an arm of position servos
simulated in a thread (each joint moves toward its target at a bounded speed, as a servo in position mode
does). A real driver would talk to its SDK where this one integrates.

It uses polyarm's ground floor (the RobotDriver interface, the command check, the options) and the robot's
description (its home pose and joint limits).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from polyarm_core.driver import CommandRefused, JointReading, RobotDriver, validate_command
from polyarm_core.options import option
from polyarm_description import home_joints, joint_limits, load_model


@dataclass(frozen=True)
class ServoArmConfig:
    joint_speed: float = option(1.5, "the servos' speed, rad/s")
    rate: float = option(500.0, "the servos' update rate, Hz")


class ServoArmDriver(RobotDriver):
    config_class = ServoArmConfig

    def __init__(self, robot, config: ServoArmConfig = ServoArmConfig()):
        if robot.command_interface != "position":
            raise ValueError(f"lab_servo_arm drives position-servo arms, not the {robot.name} ({robot.command_interface})")
        self.robot, self.config = robot, config
        model = load_model(robot)
        limits = joint_limits(model, robot)
        self._low, self._high = limits.lower, limits.upper
        self._q = home_joints(model, robot)
        self._dq = np.zeros(robot.dof)
        self._target = self._q.copy()
        self._opening = 1.0
        self._lock = threading.Lock()
        self._running = False

    def connect(self) -> None:
        self._running = True
        threading.Thread(target=self._servo, daemon=True).start()

    def _servo(self) -> None:
        period = 1.0 / self.config.rate
        while self._running:
            with self._lock:
                step = np.clip(self._target - self._q, -self.config.joint_speed * period, self.config.joint_speed * period)
                self._q, self._dq = self._q + step, step / period
            time.sleep(period)

    def read(self) -> JointReading:
        with self._lock:
            finger = self.robot.finger_position(self._opening)
            names = tuple(self.robot.arm_joints) + tuple(self.robot.finger_joints)
            position = np.concatenate([self._q, [finger] * len(self.robot.finger_joints)])
            velocity = np.concatenate([self._dq, [0.0] * len(self.robot.finger_joints)])
        return JointReading(names, position, velocity, np.zeros(len(names)), self._opening, time.time_ns())

    def write(self, names, values) -> None:
        target = validate_command(self.robot, names, values, self._low, self._high)
        with self._lock:
            self._target = target

    def command_gripper(self, opening: float) -> None:
        if not np.isfinite(opening):
            raise CommandRefused(f"gripper command {opening} is not finite")
        self._opening = float(np.clip(opening, 0.0, 1.0))

    def stop(self) -> None:
        with self._lock:
            self._target = self._q.copy()

    def close(self) -> None:
        self.stop()
        self._running = False
