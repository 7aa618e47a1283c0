"""ControlLoop: the controller core inside a driver's process, ros2_control's read/update/write.

    read()  the driver's joint state      ->  ControllerCore.joint_state
    update  one controller tick            ->  ControllerCore.tick (interpolation, guards, OSC law)
    write() the command to the driver      <-  its command, in the robot's command interface

Whoever owns the timing calls `update(now)`: the sim's stepping (sim_bridge.controlled.ControlledSim,
for evaluation, tests and benchmarks), or a real driver's own control callback, so the law is evaluated
on the state of that instant instead of one that crossed DDS a period earlier. Targets come in through
`set_target`, as they do from `controller/target_pose` in the controller node.
"""

from __future__ import annotations

import numpy as np
from polyarm_core.driver import RobotDriver
from polyarm_core.rotations import matrix_to_quat

from polyarm_control.core import ControllerCore, TickOutput


class ControlLoop:
    def __init__(self, driver: RobotDriver, core: ControllerCore):
        self.driver, self.core = driver, core
        self.last: TickOutput | None = None

    def read(self, now: float) -> None:
        reading = self.driver.read()
        self.core.joint_state(reading.names, reading.position, reading.velocity, now)

    def update(self, now: float) -> TickOutput:
        """read, tick, write: one period of the loop."""
        self.read(now)
        self.last = self.core.tick(now)
        if self.last.command is not None:
            self.driver.write(self.core.robot.arm_joints, self.last.command)
        return self.last

    def resume(self, now: float) -> None:
        """Restart tracking from the measured pose (after an e-stop, a hold or a reset of the robot)."""
        self.read(now)
        self.core.resume(now)

    def set_target(self, position, rotation: np.ndarray, now: float) -> str | None:
        """A target pose in the controller's frame; a note when it was clipped (TargetError when refused)."""
        return self.core.target(position, matrix_to_quat(rotation), self.core.config.frame_id, now)
