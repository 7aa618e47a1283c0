"""ControlLoop: the controller core inside a driver's process, ros2_control's read/update/write.

    read()  the driver's joint state      ->  ControllerCore.joint_state
    update  one controller tick            ->  ControllerCore.tick (interpolation, guards, OSC law)
    write() the command to the driver      <-  its command, in the robot's command interface

Whoever owns the timing calls `update(now)`: the sim's stepping (sim_bridge.controlled.ControlledSim,
for evaluation, tests and benchmarks), or a real driver's own control callback, so the law is evaluated
on the state of that instant instead of one that crossed DDS a period earlier. Targets come in through
`set_target`, as they do from `controller/target_pose` in the controller node.

InDriverController is the second case: a driver with a real-time loop of its own (`start_loop`, the
Panda's 1 kHz over franky) ticks the loop on the robot's clock, from the driver's loop thread, while targets
and mode changes arrive from another (the driver node's executor); one lock keeps them apart, and no
call into the driver is made while another thread holds it.
"""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import replace

import numpy as np
from polyarm_core.driver import RobotDriver
from polyarm_core.rotations import matrix_to_quat

from polyarm_control.config import ControllerConfig, default_config
from polyarm_control.core import ControllerCore, TickOutput
from polyarm_control.osc import OSCGains


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


def torque_loop_config(robot, rate_hz: float) -> ControllerConfig:
    """The controller's defaults where the law runs in the robot's own loop: its rate, and the profile's
    torque-loop gains over the usual ones."""
    gains = OSCGains(**{**robot.controller_gains, **robot.torque_loop_gains})
    return replace(default_config(robot.name), rate_hz=rate_hz, gains=gains)


class InDriverController:
    def __init__(self, driver: RobotDriver, config: ControllerConfig | None = None):
        self.driver = driver
        self.core = ControllerCore(driver.robot, config or torque_loop_config(driver.robot, driver.loop_rate_hz))
        self.loop = ControlLoop(driver, self.core)
        self.lock = threading.Lock()
        self.now = 0.0  # the robot's clock at the last tick (s)
        self.on_tick = None  # on_tick(output, now, compute_s), from the robot's thread

    def tick(self, now: float) -> None:
        t0 = time.perf_counter()
        self.now = now
        with self.lock:
            out = self.loop.update(now)
        if self.on_tick is not None:
            self.on_tick(out, now, time.perf_counter() - t0)

    def start(self) -> None:
        """Run in the driver's loop from now on (again, after the loop ended).

        Every object alive now is frozen out of Python's cyclic collector first: a full collection walks
        the whole heap (161 ms over a heap with torch and MuJoCo loaded, measured), and the tick that
        meets it misses libfranka's 50 ms torque deadline (seen once in CI: TorqueSignalTimeoutException)."""
        gc.freeze()
        self.driver.start_loop(self.tick)

    def set_target(self, position, rotation: np.ndarray) -> str | None:
        with self.lock:
            return self.loop.set_target(position, rotation, self.now)

    def resume(self) -> None:
        """From the measured pose, with the loop running again. The robot is asked for its state before the
        lock is taken: the driver's loop thread may be inside a tick waiting for the lock, and a driver that
        holds its state while it runs the tick would then wait for us: a deadlock."""
        reading = self.driver.read()
        with self.lock:
            self.core.joint_state(reading.names, reading.position, reading.velocity, self.now)
            self.core.resume(self.now)
        self.start()
