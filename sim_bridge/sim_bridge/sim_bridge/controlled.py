"""The controller's own core driving a simulated arm (MujocoSim, or `sim=` another SimulatedArm such as
PybulletSim) in one process, tick for tick at the controller rate.

For evaluation and tests that need the closed loop without ROS: polyarm_control's ControlLoop (the
read/update/write a real driver runs in its own process) over the sim as a RobotDriver, with the
physics stepped one controller period after each update.
"""

from __future__ import annotations

import numpy as np
from polyarm_control.config import ControllerConfig, default_config
from polyarm_control.core import ControllerCore, TickOutput
from polyarm_control.loop import ControlLoop
from polyarm_description import RobotProfile

from sim_bridge.camera import CameraConfig
from sim_bridge.devices import SimulatedArmDriver
from sim_bridge.mujoco_sim import MujocoSim


class ControlledSim:
    def __init__(self, robot: RobotProfile, config: ControllerConfig | None = None, camera: CameraConfig | None = None,
                 task=None, board=None, sim=None):
        self.sim = sim if sim is not None else MujocoSim(robot, camera, task=task, board=board)
        self.config = config or default_config(robot.name)
        self.controller = ControllerCore(robot, self.config)
        self.loop = ControlLoop(SimulatedArmDriver(self.sim, clock_ns=lambda: int(self.sim.time * 1e9)), self.controller)
        self.substeps = round(1.0 / (self.config.rate_hz * self.sim.timestep))
        self.tick()  # the controller starts holding the pose it finds

    def reset(self, rng=None) -> None:
        """A new episode: the sim back home with the task's objects placed from `rng`, and the
        controller restarted from the measured pose (as after controller/resume)."""
        self.sim.reset(rng=rng)
        self.loop.resume(self.time)
        self.tick()

    @property
    def time(self) -> float:
        return self.sim.time

    @property
    def last(self) -> TickOutput | None:
        return self.loop.last

    def set_target(self, position, rotation) -> str | None:
        return self.loop.set_target(position, rotation, self.time)

    def tick(self) -> TickOutput:
        out = self.loop.update(self.time)
        self.sim.step(self.substeps)
        return out

    def run(self, seconds: float, on_tick=None) -> None:
        for _ in range(round(seconds * self.config.rate_hz)):
            out = self.tick()
            if on_tick is not None:
                on_tick(self, out)

    def tcp(self) -> tuple[np.ndarray, np.ndarray]:
        return self.sim.tcp_pose()
