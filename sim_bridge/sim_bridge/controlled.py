"""The controller's own core driving MujocoSim in one process, tick for tick at the controller rate.

For evaluation and tests that need the closed loop without ROS: the same ControllerCore the
controller node runs, fed with the sim's joint state, its commands applied as the node's would be.
"""

from __future__ import annotations

import numpy as np
from polyarm_control.config import ControllerConfig, default_config
from polyarm_control.core import ControllerCore, TickOutput
from polyarm_control.rotations import matrix_to_quat
from polyarm_description import RobotSpec

from sim_bridge.camera import CameraConfig
from sim_bridge.mujoco_sim import MujocoSim


class ControlledSim:
    def __init__(self, robot: RobotSpec, config: ControllerConfig | None = None, camera: CameraConfig | None = None,
                 task=None):
        self.sim = MujocoSim(robot, camera, task=task)
        self.config = config or default_config(robot.name)
        self.controller = ControllerCore(robot, self.config)
        self.substeps = round(1.0 / (self.config.rate_hz * self.sim.timestep))
        self.last: TickOutput | None = None
        self.tick()  # the controller starts holding the pose it finds

    def reset(self, rng=None) -> None:
        """A new episode: the sim back home with the task's objects placed from `rng`, and the
        controller restarted from the measured pose (as after controller/resume)."""
        self.sim.reset(rng=rng)
        state = self.sim.joint_state()
        self.controller.joint_state(state.names, state.position, state.velocity, self.time)
        self.controller.resume(self.time)
        self.tick()

    @property
    def time(self) -> float:
        return self.sim.time

    def set_target(self, position, rotation) -> str | None:
        return self.controller.target(position, matrix_to_quat(rotation), self.config.frame_id, self.time)

    def tick(self) -> TickOutput:
        state = self.sim.joint_state()
        self.controller.joint_state(state.names, state.position, state.velocity, self.time)
        self.last = self.controller.tick(self.time)
        if self.last.command is not None:
            self.sim.command(self.sim.robot.arm_joints, self.last.command)
        self.sim.step(self.substeps)
        return self.last

    def run(self, seconds: float, on_tick=None) -> None:
        for _ in range(round(seconds * self.config.rate_hz)):
            out = self.tick()
            if on_tick is not None:
                on_tick(self, out)

    def tcp(self) -> tuple[np.ndarray, np.ndarray]:
        return self.sim.tcp_pose()
