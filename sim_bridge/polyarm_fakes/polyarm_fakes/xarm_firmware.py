"""The xArm controller's state machine over the MuJoCo xArm 7: what each motion command does, in which
mode and state, and how a bad one is answered. The command protocol (polyarm_fakes.xarm_controller)
calls these methods; the sync thread moves the arm behind them at SYNC_HZ.

The firmware's rules, as the SDK's source and UFACTORY's manual describe them:
- at power-on the motors are off and the state is 4 (stopped); nothing moves before `motion_enable` and
  `set_state(0)`; `set_mode` takes effect at the next `set_state(0)`.
- position mode (0) queues motions (`set_servo_angle`, `move_gohome`, `set_position`, relative moves) and
  runs them one after another; `cmdnum` counts those not yet finished. The state is 1 (moving) from a
  command until the arm has settled on its last target, then 2 (sleeping): `wait=True` sees the arm move,
  then stop, through the state it polls.
- servo mode (1) follows each `set_servo_angle_j` / `set_servo_cartesian` target at once; a target that
  would need a joint faster than twice its speed limit raises error 24 (Speed Exceeds Limit).
- joint velocity mode (4) and Cartesian velocity mode (5) ramp to the commanded velocity within the
  acceleration limits and hold it, for `duration` seconds where one is given.
- bad commands, with the codes of the SDK's tables (xarm/core/config/x_code.py): a joint target beyond its
  limit raises error 23 (Joints Angle Exceed Limit) and a Cartesian target out of reach error 21
  (Kinematic Error), both stopping the arm; a speed beyond the limit is refused with warning 12 (User
  Instruction Parameter Error); a command of another mode is answered invalid. While an error stands,
  the replies carry it and nothing moves until `clean_error`, `motion_enable` and `set_state(0)`.
- faults: a collision raises error 31 (Collision Caused Abnormal Current) and stops the arm; the
  emergency stop (error 1) also drops motor power.
"""

from __future__ import annotations

import collections
import threading
import time

import numpy as np
from polyarm_core.rotations import from_rotation_vector, matrix_to_rpy, rpy_to_matrix
from polyarm_description import RobotProfile, home_joints

from polyarm_fakes.xarm_motion import ArmKinematics, JointMove, LinearMove

NOT_READY, WARNING, ERROR, INVALID = 0x10, 0x20, 0x40, 0x08  # the reply's status bits
MOVING, SLEEPING, PAUSED, STOPPED = 1, 2, 3, 4
POSITION, SERVO, JOINT_VELOCITY, CARTESIAN_VELOCITY = 0, 1, 4, 5
# controller errors and warnings (the SDK's ControllerErrorCodeMap / ControllerWarnCodeMap)
EMERGENCY_STOP, KINEMATIC_ERROR, JOINT_LIMIT, SPEED_EXCEEDS_LIMIT, COLLISION = 1, 21, 23, 24, 31
PARAMETER_ERROR = 12
SYNC_HZ = 250.0
SERVO_PERIOD_S = (0.01, 0.05)  # the time a servo target is judged over: the gap since the last, within these
SERVO_JITTER_ALLOWANCE = 2.0  # a target may ask twice the joint speed limit over that time (stream jitter)
SETTLED_RAD, SETTLED_RAD_S = 2e-4, 5e-3  # a motion ends when the arm is this close to its target, this still
SETTLE_TIMEOUT_S = 2.0
SPEED_TOLERANCE = 1.001  # fp32 rounding of a speed asked at the limit


class CommandRefused(Exception):
    """A command the firmware does not carry out: `status` is the reply's status bit to set."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


class XArmFirmware:
    """The controller's state over the MuJoCo arm. Its methods do not lock: the command server, the
    report streams and the sync thread each hold `lock` around what they call."""

    def __init__(self, robot: RobotProfile, realtime: bool = True):
        from sim_bridge.devices import StandaloneMujocoDriver

        self.robot, self.facts = robot, robot.xarm_controller
        self.arm = StandaloneMujocoDriver.create(robot, realtime=realtime)
        _on_a_stand(self.arm.sim)
        self.kinematics = ArmKinematics(robot)
        self.limits = self.kinematics.limits
        self.lock = threading.Lock()
        self.enabled, self.state, self.mode, self.pending_mode = False, STOPPED, POSITION, POSITION
        self.error_code = self.warn_code = 0
        self.settings = {"tcp_load": np.zeros(4), "collision_sensitivity": 3, "teach_sensitivity": 3,
                         "gravity_direction": np.array([0.0, 0.0, -1.0]), "world_offset": np.zeros(6),
                         "tcp_jerk": self.facts["tcp_jerk"], "tcp_acceleration": self.facts["max_tcp_acceleration"],
                         "joint_jerk": self.facts["joint_jerk"],
                         "joint_acceleration": self.facts["max_joint_acceleration"]}
        self.target = home_joints(self.kinematics.model, robot)[:robot.dof].copy()
        self.queue: collections.deque = collections.deque()  # position mode: motions waiting their turn
        self._motion, self._t0, self._settle_since = None, 0.0, None
        self._last_servo = 0.0
        self._velocity = np.zeros(robot.dof)  # velocity modes: the joint velocity now
        self._velocity_command, self._velocity_until = None, None  # (kind, vector, tool frame), deadline
        self.gripper = {"enable": 0, "mode": 0, "speed": 0, "target": self.facts["gripper_pulses"], "error": 0}
        self.q, self.qd, self.tau = self.target.copy(), np.zeros(robot.dof), np.zeros(robot.dof)
        self.gripper_pulses = float(self.facts["gripper_pulses"])
        self._running = False

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.arm.connect()
        self.arm.write(self.robot.arm_joints, self.target)
        self._measure()
        self._running = True
        self._thread = threading.Thread(target=self._sync, name="xarm-firmware", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._running = False
        if getattr(self, "_thread", None) is not None:
            self._thread.join(timeout=2.0)
        self.arm.close()

    @property
    def ready(self) -> bool:
        return self.enabled and self.error_code == 0 and self.state in (MOVING, SLEEPING)

    def status(self) -> int:
        return (ERROR if self.error_code else 0) | (WARNING if self.warn_code else 0) | (0 if self.ready else NOT_READY)

    @property
    def cmdnum(self) -> int:
        return len(self.queue) + (self._motion is not None)

    # ------------------------------------------------------------ state and mode
    def motion_enable(self, enable: bool) -> None:
        self.enabled = enable
        if not enable:
            self._stop()

    def set_state(self, state: int) -> None:
        if state == 0:
            if self.enabled and self.error_code == 0:
                if self.state == PAUSED and self.mode == self.pending_mode and self._motion is not None:
                    self._t0 += time.monotonic() - self._paused_at  # resume where it paused
                    self.state = MOVING
                    return
                self.mode, self.state = self.pending_mode, SLEEPING
                self.target, self._last_servo = self.q.copy(), 0.0  # start from where the arm stands
                self._velocity[:], self._velocity_command = 0.0, None
        elif state == PAUSED and self.state == MOVING:
            self.state, self._paused_at = PAUSED, time.monotonic()
        elif state in (PAUSED, STOPPED):
            self._stop(state)

    def set_mode(self, mode: int) -> None:
        self.pending_mode = mode  # the firmware switches at the next set_state(0)

    def raise_error(self, code: int) -> None:
        self.error_code = code
        self._stop()
        if code == EMERGENCY_STOP:
            self.enabled = False

    def clean_error(self) -> None:
        self.error_code = 0

    def _stop(self, state: int = STOPPED) -> None:
        self.state, self._motion, self._settle_since = state, None, None
        self.queue.clear()
        self._velocity[:], self._velocity_command = 0.0, None
        self.target = self.q.copy()

    def _require(self, mode: int) -> None:
        if not self.ready:
            raise CommandRefused(0)  # the status already says why: not ready, or the error standing
        if self.mode != mode:
            raise CommandRefused(INVALID)

    def _refuse_speed(self, speed: float, limit: float) -> None:
        if speed > limit * SPEED_TOLERANCE:
            self.warn_code = PARAMETER_ERROR
            raise CommandRefused(WARNING)

    def _refuse_beyond_limits(self, q) -> None:
        if np.any(q < self.limits.lower - 1e-6) or np.any(q > self.limits.upper + 1e-6):
            self.raise_error(JOINT_LIMIT)
            raise CommandRefused(ERROR)

    # ------------------------------------------------------------ position mode
    def move_joint(self, angles, speed: float, acceleration: float, relative: bool = False) -> None:
        """set_servo_angle: a joint move queued behind the others."""
        self._require(POSITION)
        self._refuse_speed(speed, float(np.min(self.limits.velocity)))
        goal = np.asarray(angles, float) + (self._last_goal() if relative else 0.0)
        self._refuse_beyond_limits(goal)
        self._queue(("joint", goal, speed, acceleration))

    def move_home(self, speed: float, acceleration: float) -> None:
        """move_gohome: a joint move to the zero pose, UFACTORY's home."""
        self.move_joint(np.zeros(self.robot.dof), speed, acceleration)

    def move_line(self, pose, speed: float, acceleration: float, tool_frame: bool = False,
                  axis_angle: bool = False, relative: bool = False) -> None:
        """set_position (and set_tool_position): the TCP along a straight line to `pose`
        (x, y, z mm; roll, pitch, yaw or an axis-angle in rad), in the base or the tool frame."""
        self._require(POSITION)
        self._refuse_speed(speed, self.facts["max_tcp_speed"])
        command = ("line", np.asarray(pose, float), speed, acceleration, tool_frame, axis_angle, relative)
        if self._motion is None and not self.queue:  # planned now, so an unreachable target is the reply's answer
            self._begin(command)
            if self.error_code:
                raise CommandRefused(ERROR)
            self.state, self._settle_since = MOVING, None
            return
        self._queue(command)

    def _queue(self, command: tuple) -> None:
        self.queue.append(command)
        self.state, self._settle_since = MOVING, None

    def _last_goal(self) -> np.ndarray:
        """Where the joints will be when the queue is done: a relative joint move starts there."""
        if self.queue and self.queue[-1][0] == "joint":
            return self.queue[-1][1]
        if not self.queue and isinstance(self._motion, JointMove):
            return self._motion.goal
        planned = self._motion.plan() if not self.queue and isinstance(self._motion, LinearMove) else None
        return planned if planned is not None else self.target.copy()

    def _begin(self, command: tuple) -> None:
        """The next queued motion, from where the last one left the target."""
        if command[0] == "joint":
            _, goal, speed, acceleration = command
            acceleration = float(np.clip(acceleration, 1e-2, self.settings["joint_acceleration"]))
            self._motion = JointMove(self.target.copy(), goal, max(speed, 1e-3), acceleration)
        else:
            _, pose, speed, acceleration, tool_frame, axis_angle, relative = command
            start = self.kinematics.frame(self.target)
            R = from_rotation_vector(pose[3:]) if axis_angle else rpy_to_matrix(pose[3:])
            if tool_frame:
                goal = (start[0] + start[1] @ pose[:3], start[1] @ R)
            elif relative:  # an axis-angle turns the TCP in the base frame; roll, pitch and yaw add to its own
                turned = R @ start[1] if axis_angle else rpy_to_matrix(matrix_to_rpy(start[1]) + pose[3:])
                goal = (start[0] + pose[:3], turned)
            else:
                goal = (pose[:3], R)
            acceleration = float(np.clip(acceleration, 1.0, self.settings["tcp_acceleration"]))
            line = LinearMove(self.kinematics, self.target.copy(), start, goal, max(speed, 1e-3), acceleration)
            if line.plan() is None:
                self.raise_error(KINEMATIC_ERROR)  # out of reach: planned before a joint moves, and refused
                return
            self._motion = line
        self._t0 = time.monotonic()

    # ------------------------------------------------------------ servo mode
    def servo_j(self, angles) -> None:
        """Mode 1: follow the target at once, unless reaching it would exceed the joint speed limit."""
        self._require(SERVO)
        self._refuse_beyond_limits(np.asarray(angles, float))
        self._servo_to(np.asarray(angles, float))

    def servo_cartesian(self, pose, tool_frame: bool = False) -> None:
        self._require(SERVO)
        position, R = self.kinematics.frame(self.target)
        if tool_frame:
            goal = (position + R @ pose[:3], R @ rpy_to_matrix(pose[3:]))
        else:
            goal = (np.asarray(pose[:3], float), rpy_to_matrix(pose[3:]))
        q = self.kinematics.inverse(self.target, *goal, iterations=30)
        if q is None:
            self.raise_error(KINEMATIC_ERROR)
            raise CommandRefused(ERROR)
        self._servo_to(q)

    def _servo_to(self, angles: np.ndarray) -> None:
        now = time.monotonic()
        dt = float(np.clip(now - self._last_servo, *SERVO_PERIOD_S))  # a resumed stream must resume nearby
        if np.any(np.abs(angles - self.target) > SERVO_JITTER_ALLOWANCE * self.limits.velocity * dt):
            self.raise_error(SPEED_EXCEEDS_LIMIT)
            raise CommandRefused(ERROR)
        self.target, self._last_servo, self.state = angles, now, MOVING

    # ------------------------------------------------------------ velocity modes
    def joint_velocity(self, velocities, duration: float) -> None:
        """vc_set_joint_velocity (mode 4): rad/s per joint, held for `duration` s (< 0: until the next)."""
        self._require(JOINT_VELOCITY)
        velocities = np.asarray(velocities, float)[:self.robot.dof]
        self._refuse_speed(float(np.max(np.abs(velocities) / self.limits.velocity)), 1.0)
        self._hold_velocity(("joint", velocities, False), duration)

    def cartesian_velocity(self, twist, tool_frame: bool, duration: float) -> None:
        """vc_set_cartesian_velocity (mode 5): mm/s and rad/s of the TCP, in the base or the tool frame."""
        self._require(CARTESIAN_VELOCITY)
        twist = np.asarray(twist, float)
        self._refuse_speed(float(np.linalg.norm(twist[:3])), self.facts["max_tcp_speed"])
        self._hold_velocity(("cartesian", twist, tool_frame), duration)

    def _hold_velocity(self, command: tuple, duration: float) -> None:
        self._velocity_command = command
        self._velocity_until = time.monotonic() + duration if duration > 0 else None
        self.state = MOVING

    def _velocity_step(self, dt: float) -> None:
        kind, vector, tool_frame = self._velocity_command or ("joint", np.zeros(self.robot.dof), False)
        if self._velocity_until is not None and time.monotonic() > self._velocity_until:
            self._velocity_command = None
        if kind == "cartesian" and self._velocity_command is not None:
            J = self.kinematics.jacobian(self.target)
            if tool_frame:
                R = self.kinematics.frame(self.target)[1]
                vector = np.concatenate([R @ vector[:3], R @ vector[3:]])
            vector = J.T @ np.linalg.solve(J @ J.T + 1e-3 * np.eye(6), vector)
        elif self._velocity_command is None:
            vector = np.zeros(self.robot.dof)
        step = self.settings["joint_acceleration"] * dt
        self._velocity += np.clip(vector - self._velocity, -step, step)
        target = self.target + self._velocity * dt
        if np.any(target < self.limits.lower) or np.any(target > self.limits.upper):
            self.raise_error(JOINT_LIMIT)
            return
        self.target = target
        if not self._velocity.any() and not (self._velocity_command and self._velocity_command[1].any()):
            self.state = SLEEPING

    # ------------------------------------------------------------ the arm behind it
    def _sync(self) -> None:
        period, next_time = 1.0 / SYNC_HZ, time.monotonic()
        last = next_time
        while self._running:
            now = time.monotonic()
            with self.lock:
                self._advance(now - last)  # the time that passed: a busy host runs the loop late, not slow
                last = now
                target = self.target.copy()
                opening = self.gripper["target"] / self.facts["gripper_pulses"] if self.gripper["enable"] else None
            self.arm.write(self.robot.arm_joints, target)
            if opening is not None:
                self.arm.command_gripper(float(np.clip(opening, 0.0, 1.0)))
            with self.lock:
                self._measure()
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))

    def _advance(self, dt: float) -> None:
        if self.state != MOVING:
            return
        if self.mode == POSITION:
            self._advance_queue()
        elif self.mode == SERVO and time.monotonic() - self._last_servo > 0.1:
            self.state = SLEEPING  # the servo stream stopped: the arm holds the last target
        elif self.mode in (JOINT_VELOCITY, CARTESIAN_VELOCITY):
            self._velocity_step(dt)

    def _advance_queue(self) -> None:
        if self._motion is None and self.queue:
            self._begin(self.queue.popleft())
        if self._motion is not None:
            self.target, done = self._motion.at(time.monotonic() - self._t0)
            if done:
                self._motion = None
        elif not self.queue:  # the last motion's target reached: moving until the arm has settled on it
            now = time.monotonic()
            self._settle_since = self._settle_since or now
            settled = np.abs(self.q - self.target).max() < SETTLED_RAD and np.abs(self.qd).max() < SETTLED_RAD_S
            if settled or now - self._settle_since > SETTLE_TIMEOUT_S:
                self.state, self._settle_since = SLEEPING, None

    def _measure(self) -> None:
        reading = self.arm.read()
        n = self.robot.dof
        self.q, self.qd, self.tau = reading.position[:n].copy(), reading.velocity[:n].copy(), reading.effort[:n].copy()
        self.gripper_pulses = reading.gripper_opening * self.facts["gripper_pulses"]

    def tcp_pose(self) -> list[float]:
        """x, y, z (mm), roll, pitch, yaw (rad) of the TCP in the base frame, as the controller reports it."""
        return self.kinematics.pose(self.q).tolist()


def _on_a_stand(sim) -> None:
    """The arm alone, as its controller knows it: UFACTORY's zero pose (move_gohome) puts a gripper's
    fingertips 5 cm below the base's mounting plane, so the fake's arm stands clear of the sim's table."""
    table = sim.model.geom("table").id
    sim.model.geom_contype[table] = sim.model.geom_conaffinity[table] = 0
