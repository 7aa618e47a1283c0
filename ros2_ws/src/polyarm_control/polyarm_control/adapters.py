"""One control law, two command interfaces.

effort:   the torque of the law, plus the Coriolis term and, unless the robot compensates its own
          gravity (libfranka does), the gravity term; plus joint-limit and velocity-limit terms.
position: the law drives a reference model of the arm (exactly gravity- and Coriolis-compensated,
          so its motion is the task dynamics), integrated at the controller rate; its joint positions
          are the servo targets. The reference may lead the measured joints by at most
          `max_servo_error`, which bounds the force a stiff servo exerts when something blocks it:
          compliance comes from the reference model, as in admittance control.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from polyarm_control.config import ControllerConfig
from polyarm_control.dynamics import ArmState, RobotDynamics
from polyarm_control.limits import joint_limit_torque, velocity_limit_torque

Law = Callable[[ArmState], np.ndarray]  # joint torque of the task and posture terms at a state


class EffortAdapter:
    interface = "effort"

    def __init__(self, dynamics: RobotDynamics, config: ControllerConfig):
        self.robot, self.limits, self.config = dynamics.robot, dynamics.limits, config
        self.dt = 1.0 / config.rate_hz

    def reset(self, measured: ArmState) -> None:
        pass

    def command(self, measured: ArmState, law: Law) -> np.ndarray:
        c = self.config
        tau = law(measured) + measured.coriolis
        if not self.robot.gravity_compensated:
            tau = tau + measured.gravity
        tau += joint_limit_torque(measured.q, measured.qd, self.limits, c.joint_limit_margin, c.joint_limit_stiffness)
        tau += velocity_limit_torque(measured.qd, self.limits, np.diag(measured.M), self.dt)
        return tau

    def stop(self, measured: ArmState, q_stop: np.ndarray) -> np.ndarray:
        """Joint-space hold at q_stop, critically damped at `stop_bandwidth`, shaped by M."""
        w = self.config.stop_bandwidth
        tau = measured.M @ (w * w * (q_stop - measured.q) - 2.0 * w * measured.qd) + measured.coriolis
        return tau if self.robot.gravity_compensated else tau + measured.gravity

    def on_stale_state(self, last_command):
        """No fresh joint_states: publish nothing. The robot's own watchdog (libfranka's reflex; the
        sim's effort_timeout) then stops and holds the arm; a stale torque is never repeated."""
        return None


class PositionAdapter:
    interface = "position"

    def __init__(self, dynamics: RobotDynamics, config: ControllerConfig):
        self.model = RobotDynamics(dynamics.robot)  # a second model: the reference arm's state
        self.limits, self.config = dynamics.limits, config
        self.h = 1.0 / (config.rate_hz * config.reference_substeps)
        self.q_ref = self.qd_ref = None

    def reset(self, measured: ArmState) -> None:
        self.q_ref, self.qd_ref = measured.q.copy(), np.zeros_like(measured.q)

    def command(self, measured: ArmState, law: Law) -> np.ndarray:
        c, lim = self.config, self.limits
        for _ in range(c.reference_substeps):
            ref = self.model.state(self.q_ref, self.qd_ref)
            tau = law(ref) + joint_limit_torque(ref.q, ref.qd, lim, c.joint_limit_margin, c.joint_limit_stiffness)
            qdd = np.linalg.solve(ref.M, tau)
            self.qd_ref = np.clip(self.qd_ref + self.h * qdd, -lim.velocity, lim.velocity)
            q_next = np.clip(self.q_ref + self.h * self.qd_ref, lim.lower, lim.upper)
            self.qd_ref = np.where(q_next != self.q_ref + self.h * self.qd_ref, 0.0, self.qd_ref)  # stop at a limit
            self.q_ref = q_next
        lead = np.clip(self.q_ref - measured.q, -c.max_servo_error, c.max_servo_error)
        blocked = lead != self.q_ref - measured.q
        self.q_ref = measured.q + lead
        self.qd_ref = np.where(blocked, 0.0, self.qd_ref)
        return self.q_ref.copy()

    def stop(self, measured: ArmState, q_stop: np.ndarray) -> np.ndarray:
        self.q_ref, self.qd_ref = q_stop.copy(), np.zeros_like(q_stop)
        return q_stop.copy()

    def on_stale_state(self, last_command):
        """No fresh joint_states: keep streaming the last servo targets; the servos hold there."""
        return last_command
