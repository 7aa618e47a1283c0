"""ControllerCore: targets in, joint commands out, at the controller rate. No ROS here.

Modes: running (track the reference), hold (keep the reference pose; `controller/hold`), stopped
(e-stop: stop in joint space and hold; targets ignored until `controller/resume`, which restarts
from the measured pose). Watchdogs: joint_states older than `joint_state_timeout` or no target for
`target_timeout` make the controller hold, and it says why in its status.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from polyarm_core.rotations import angle_between, orientation_error
from polyarm_description import RobotProfile

from polyarm_control.adapters import EffortAdapter, PositionAdapter
from polyarm_control.config import ControllerConfig
from polyarm_control.dynamics import ArmState, RobotDynamics
from polyarm_control.limits import CommandGuard
from polyarm_control.osc import osc_torque
from polyarm_control.reference import Pose, ReferenceInterpolator, TargetError, Workspace, validate_target

RUNNING, HOLD, STOPPED = "running", "hold", "stopped"


@dataclass
class TickOutput:
    command: np.ndarray | None  # None: publish nothing this tick
    status: str  # mode, and the reason when not tracking
    measured: ArmState | None = None
    reference: Pose | None = None
    position_error: float = 0.0  # m, reference to measured TCP
    orientation_error: float = 0.0  # rad


class ControllerCore:
    def __init__(self, robot: RobotProfile, config: ControllerConfig):
        self.robot, self.config = robot, config
        self.dynamics = RobotDynamics(robot)
        self.limits = self.dynamics.limits
        adapter_type = EffortAdapter if robot.command_interface == "effort" else PositionAdapter
        self.adapter = adapter_type(self.dynamics, config)
        self.workspace = Workspace(np.asarray(config.workspace_low, float), np.asarray(config.workspace_high, float))
        self.interpolator = ReferenceInterpolator(config.interpolation, config.default_target_period,
                                                  config.max_linear_speed, config.max_angular_speed,
                                                  max_linear_acceleration=config.max_linear_acceleration,
                                                  max_angular_acceleration=config.max_angular_acceleration)
        self.guard = CommandGuard(self.limits, robot.command_interface, 1.0 / config.rate_hz)
        self.posture = self.dynamics.home()
        self.mode = RUNNING
        self._rows_key, self._rows = None, []
        self._q = self._qd = None
        self._state_time = self._target_time = None
        self._q_stop = None
        self._initialized = False

    # ------------------------------------------------------------------ inputs
    def joint_state(self, names, positions, velocities, now: float) -> None:
        """Take the arm joints out of a joint_states message (other joints, e.g. fingers, are ignored)."""
        rows = self._rows_for(tuple(names))
        q = np.asarray(positions, dtype=float)[rows]
        qd = np.asarray(velocities, dtype=float)[rows] if len(velocities) else np.zeros(len(rows))
        if not (np.all(np.isfinite(q)) and np.all(np.isfinite(qd))):
            raise ValueError("joint_states holds NaN or inf")
        self._q, self._qd, self._state_time = q, qd, now

    def _rows_for(self, names: tuple) -> list[int]:
        """Where the arm joints sit in a joint_states message (cached: drivers keep one order)."""
        if names != self._rows_key:
            index = {n: i for i, n in enumerate(names)}
            missing = [j for j in self.robot.arm_joints if j not in index]
            if missing:
                raise ValueError(f"joint_states lacks joints {missing}")
            self._rows_key, self._rows = names, [index[j] for j in self.robot.arm_joints]
        return self._rows

    def target(self, position, quaternion_xyzw, frame_id: str, now: float) -> str | None:
        """Accept a target pose; returns a note when it was clipped. Raises TargetError when refused."""
        pose = validate_target(position, quaternion_xyzw, frame_id, self.config.frame_id)
        if self.mode != RUNNING:
            raise TargetError(f"target ignored: the controller is {self.mode} (call controller/resume)")
        if not self._initialized:
            raise TargetError("target ignored: no joint_states received yet")
        clipped, was_clipped = self.workspace.clip(pose.position)
        self.interpolator.set_target(Pose(clipped, pose.rotation), now)
        self._target_time = now
        if was_clipped:
            return f"target {np.round(pose.position, 3)} clipped to the workspace box: {np.round(clipped, 3)}"
        return None

    def hold(self, now: float) -> None:
        if self.mode == RUNNING:
            self.mode = HOLD
            if self._initialized:
                self.interpolator.hold(now)

    def stop(self, now: float) -> None:
        self.mode = STOPPED
        self._q_stop = None if self._q is None else self._q.copy()

    def resume(self, now: float) -> None:
        """Continue from the measured pose, with no jump."""
        self.mode = RUNNING
        self._target_time = None
        if self._q is not None:
            self._restart_from_measured(now)

    # -------------------------------------------------------------------- tick
    def tick(self, now: float) -> TickOutput:
        if self._q is None:
            return TickOutput(None, "waiting for joint_states")
        if now - self._state_time > self.config.joint_state_timeout:
            command = self.adapter.on_stale_state(self.guard.previous)
            return TickOutput(command, f"hold: joint_states stale for {1e3 * (now - self._state_time):.0f} ms")
        measured = self.dynamics.state(self._q, self._qd)
        if not self._initialized:
            self._restart_from_measured(now)
            self._initialized = True
        if self.mode == STOPPED:
            if self._q_stop is None:
                self._q_stop = self._q.copy()
            return TickOutput(self.guard(self.adapter.stop(measured, self._q_stop)), "stopped (e-stop)", measured)

        status = self.mode
        if self.mode == RUNNING and (self._target_time is None or now - self._target_time > self.config.target_timeout):
            self.interpolator.hold(now)
            status = "hold: no target yet" if self._target_time is None else (
                f"hold: no target for {now - self._target_time:.1f} s")
        reference = self.interpolator.update(now, 1.0 / self.config.rate_hz)
        law = self._law(reference)
        command = self.guard(self.adapter.command(measured, law))
        return TickOutput(
            command, status, measured, reference,
            position_error=float(np.linalg.norm(reference.position - measured.tcp_position)),
            orientation_error=angle_between(reference.rotation, measured.tcp_rotation),
        )

    def _law(self, reference: Pose):
        gains, posture = self.config.gains, self.posture
        reference_velocity = self.interpolator.velocity

        def law(state: ArmState) -> np.ndarray:
            error = np.concatenate([reference.position - state.tcp_position,
                                    orientation_error(reference.rotation, state.tcp_rotation)])
            error_velocity = reference_velocity - state.tcp_velocity
            return osc_torque(gains, state.J, state.M, error, error_velocity, state.q, state.qd, posture)[0]

        return law

    def _restart_from_measured(self, now: float) -> None:
        measured = self.dynamics.state(self._q, self._qd)
        self.interpolator.reset(Pose(measured.tcp_position, measured.tcp_rotation), now)
        self.adapter.reset(measured)
        self.guard.reset(self._q if self.robot.command_interface == "position" else None)
