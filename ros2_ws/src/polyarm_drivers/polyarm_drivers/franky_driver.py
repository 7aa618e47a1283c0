"""FrankyDriver: the Franka Panda over franky-control (libfranka), as a RobotDriver.

libfranka wants a torque every millisecond. Two ways to give it one (docs/architecture.md, "The torque
path", compares them):

(a) held: each `write()` hands the controller node's torque (100 Hz, over joint_commands) to franky's
    SimpleTorqueMotion, which applies it every millisecond until the next one. Its signal timeout is the
    watchdog: when commands stop for `signal_timeout` (50 ms) the motion ends, the robot stops, and the
    driver reports it; the next command starts a new motion, so the controller's hold works afterwards.
(b) in-loop: `start_loop(tick)` runs `tick(robot_time)` in a thread of the driver's own, once for each
    new millisecond of the robot's state, on the newest one; the tick (polyarm_control's ControlLoop)
    reads and writes through this same interface, and its torque is applied on the next cycle. If the
    tick fails or stalls, no torque arrives and the same watchdog stops the arm.
    Why not franky's per-cycle callback: franky 2.0 runs Python callbacks on one executor thread behind
    an unbounded queue, not in the control loop; when Python falls behind (a loaded host, the GIL shared
    with the ROS executor) the callbacks work on ever older states and a stiff law goes unstable. Taking
    the newest state skips the milliseconds that went by instead (`missed_cycles` in diagnostics).

The robot compensates its own gravity (the profile says so), so the torques are the law's without g(q).

The gripper is franky's Gripper behind one worker thread (franky_gripper.FrankaGripper); the in-loop
runner is franky_loop.CycleLoop. This file holds the arm: connection, read, write, the torque motion,
homing and recovery.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from polyarm_core.driver import CommandRefused, DriverError, JointReading, RobotDriver, validate_command
from polyarm_core.options import option

from polyarm_drivers.franky_gripper import FrankaGripper
from polyarm_drivers.franky_loop import CycleLoop

HOME_SPEED = 0.2  # of the robot's joint velocity, acceleration and jerk limits: a slow, predictable move


@dataclass(frozen=True)
class FrankyConfig:
    host: str = option("", "the robot's FCI address (franky-sim: 127.0.0.1)")
    realtime: str = option("enforce", "enforce (a real-time kernel is required) or ignore (franky-sim, or no RT kernel)",
                           choices=("enforce", "ignore"))
    signal_timeout: float = option(0.05, "s without a torque command after which the arm stops (franky's watchdog)")
    collision_torque: float = option(20.0, "joint torque (N m) above which libfranka's collision reflex stops the arm")
    collision_force: float = option(30.0, "Cartesian force (N) above which libfranka's collision reflex stops the arm")


class FrankyDriver(RobotDriver):
    config_class = FrankyConfig
    capabilities = frozenset({"home", "recover", "realtime_loop"})
    loop_rate_hz = 1000.0  # libfranka's control rate: the in-loop controller's tick rate

    def __init__(self, robot, config: FrankyConfig = FrankyConfig()):
        if robot.name != "panda":
            raise ValueError(f"the franky driver drives a Franka Panda, not the {robot.name}")
        if not config.host:
            raise ValueError("the franky driver needs the robot's address (--host IP)")
        self.robot, self.config = robot, config
        self.host, self.signal_timeout = config.host, config.signal_timeout
        self._limit = np.asarray(_panda_torque_limits(robot), float)
        self._arm = self._motion = None
        self.gripper: FrankaGripper | None = None
        self._lock = threading.Lock()
        self._running = False
        self._homing = False
        self.loop = CycleLoop(self)
        self._clock_offset_ns: int | None = None
        self._command_time = None
        self._cycles, self._cycles_since = 0, time.monotonic()
        self.last_error = ""
        self.motions_stopped = 0

    # ------------------------------------------------------------- connection
    def connect(self) -> None:
        import franky

        mode = franky.RealtimeConfig.Enforce if self.config.realtime == "enforce" else franky.RealtimeConfig.Ignore
        try:
            self._arm = franky.Robot(self.host, realtime_config=mode)
            c = self.config
            self._arm.set_collision_behavior([c.collision_torque] * 7, [c.collision_force] * 6)
            r = self.robot
            self._arm.set_load(r.payload_mass, list(r.payload_com), [0.0] * 9)  # a point mass at its centre
            self._arm.set_ee([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, *r.tcp_offset, 1])  # column-major, no rotation
            self.gripper = FrankaGripper(franky.Gripper(self.host), max_width=2.0 * r.gripper_range[1])
        except Exception as err:  # noqa: BLE001 - franky raises several types; each is named below
            raise DriverError(_explain(err, self.host, self.config.realtime)) from None
        self._running = True
        self.gripper.start()

    # ------------------------------------------------------------------ read
    def read(self) -> JointReading:
        state = self.loop.cycle_state()
        if state is None:  # outside the in-loop tick: ask the robot (inside it, the tick's state is the newest)
            try:
                state = self._arm.state
            except Exception as err:  # noqa: BLE001 - a lost connection ends the driver
                raise DriverError(f"lost the connection to the robot at {self.host}: {err}") from None
            with self._lock:  # write() reads self._motion under the same lock, between its check and set_torque
                self._check_motion()
        finger = self.gripper.width / 2.0
        names = tuple(self.robot.arm_joints) + tuple(self.robot.finger_joints)
        position = np.concatenate([state.q, [finger, finger]])
        velocity = np.concatenate([state.dq, [0.0, 0.0]])
        effort = np.concatenate([state.tau_J, [0.0, 0.0]])
        return JointReading(names, position, velocity, effort, self.robot.gripper_opening(finger), self._stamp_ns(state))

    def _stamp_ns(self, state) -> int:
        """The robot's own time, converted to the ROS clock by the offset seen at the first reading."""
        robot_ns = int(state.time.to_msec()) * 1_000_000
        if self._clock_offset_ns is None:
            self._clock_offset_ns = time.time_ns() - robot_ns
        return self._clock_offset_ns + robot_ns

    # ----------------------------------------------------------------- write
    def write(self, names, values) -> None:
        torque = validate_command(self.robot, names, values, -self._limit, self._limit)
        motion = self.loop.cycle_motion()
        if motion is not None:  # in-loop: this cycle's motion is running
            motion.set_torque(torque)
            self._command_time = time.monotonic()
            return
        if self.loop.tick is not None:
            raise CommandRefused("the controller runs inside this driver (in-loop); joint_commands are refused")
        with self._lock:
            if self._homing:
                raise CommandRefused("the arm is homing (driver/home); commands resume when it is there")
            self._check_motion()
            if self._motion is None:
                self._start_motion(torque)
            self._motion.set_torque(torque)
            self._command_time = time.monotonic()

    def _start_motion(self, torque: np.ndarray) -> None:
        import franky

        try:
            state = self._arm.state
        except Exception as err:  # noqa: BLE001 - the read loop ends the driver with the same reason
            raise CommandRefused(f"lost the connection to the robot at {self.host}: {err}") from None
        refusal = _not_ready(state)
        if refusal:
            raise CommandRefused(refusal)
        motion = franky.SimpleTorqueMotion(initial_torque=torque, signal_timeout=self.signal_timeout)
        if self.loop.tick is None:  # held: franky's callback counts the cycles for diagnostics
            motion.register_callback(lambda *_: self._count_cycle())
        self._arm.move(motion, asynchronous=True)
        self._motion = motion

    def _count_cycle(self) -> None:
        self._cycles += 1

    # --------------------------------------------------------------- in-loop
    def start_loop(self, tick) -> None:
        """Run `tick(robot_time_s)` once for each new millisecond of the robot's state from now on (again
        after the motion ended: a reflex, the watchdog, a recovery). It starts from a zero torque: the
        robot holds itself up (gravity), and the tick's first torque follows a millisecond later."""
        with self._lock:
            self._check_motion()
            self.loop.tick = tick
            if self._motion is None:
                self._start_motion(np.zeros(self.robot.dof))
            self._command_time = time.monotonic()
            self.loop.start()

    def stop_loop(self) -> None:
        """End the in-loop controller: the motion stops and the robot holds its pose (franky's stop)."""
        self.loop.tick = None
        self.stop()
        self.loop.join()

    @property
    def loop_running(self) -> bool:
        with self._lock:
            self._check_motion()
            return self.loop.tick is not None and self._motion is not None

    def _check_motion(self) -> None:
        """Notice a torque motion that ended (the watchdog, a reflex) and say why."""
        motion = self._motion
        if motion is None or self._arm.is_in_control:
            return
        self._motion = None
        self.motions_stopped += 1
        try:
            self._arm.join_motion(timeout=0.0)
            self.last_error = "the torque motion ended"
        except Exception as err:  # noqa: BLE001 - franky's reason for stopping is the message
            self.last_error = f"{type(err).__name__}: {str(err).splitlines()[0]}" + self._reflex()

    def _reflex(self) -> str:
        """The reflex that ended a motion and the joint that met the largest external torque, if any."""
        try:
            state = self._arm.state
        except Exception:  # noqa: BLE001 - a lost connection: the read loop names it
            return ""
        names = _error_names(state.last_motion_errors)
        if not names:
            return ""
        joint = int(np.argmax(np.abs(np.asarray(state.tau_ext_hat_filtered))))
        return f" (reflex: {names}; largest external torque at joint {joint + 1})"

    def command_gripper(self, opening: float) -> None:
        """Close (below 0.5: grasp whatever is between the fingers) or move to a width, by the gripper's
        worker, so the caller never waits."""
        if not np.isfinite(opening):
            raise CommandRefused(f"gripper command {opening} is not finite")
        self.gripper.command("grasp" if opening < 0.5 else round(2.0 * self.robot.finger_position(opening), 4))

    # ------------------------------------------------------------- stopping
    def stop(self) -> None:
        with self._lock:
            if self._motion is not None:
                try:
                    self._arm.stop()
                    self._arm.join_motion(timeout=1.0)
                except Exception:  # noqa: BLE001 - the motion was ended on purpose
                    pass
                self._motion = None

    def home(self, q_home) -> None:
        """A slow joint-space move to `q_home` (HOME_SPEED of the robot's limits), blocking until there.
        No torque motion may run (the driver node stops its loop and refuses homing while a policy runs)."""
        import franky

        with self._lock:
            self._check_motion()
            if self._motion is not None:
                raise CommandRefused("a torque motion is running; stop the command stream before homing")
            refusal = _not_ready(self._arm.state)
            if refusal:
                raise CommandRefused(refusal)
            self._homing = True
        try:
            self._arm.move(franky.JointMotion([float(x) for x in q_home], relative_dynamics_factor=HOME_SPEED))
        except Exception as err:  # noqa: BLE001 - a reflex on the way, named
            raise CommandRefused(f"homing stopped: {type(err).__name__}: {str(err).splitlines()[0]}") from None
        finally:
            self._homing = False

    def recover(self) -> str:
        """libfranka's automatic error recovery: only when the operator asks for it (driver/recover)."""
        with self._lock:
            errors = self._arm.state.current_errors
            ok = self._arm.recover_from_errors()
        return f"recovered from {errors}" if ok else f"recovery failed; the robot still has {self._arm.state.current_errors}"

    def close(self) -> None:
        self._running = False
        if self._arm is not None:
            self.stop_loop()
            if self.gripper is not None:  # None when connect() failed at the gripper
                self.gripper.close()  # a gripper motion in progress ends first

    def diagnostics(self) -> dict:
        now = time.monotonic()
        rate = self._cycles / max(now - self._cycles_since, 1e-9)
        self._cycles, self._cycles_since = 0, now
        try:
            state = self._arm.state
        except Exception as err:  # noqa: BLE001 - the read loop ends the node with the same reason
            return {"last_error": f"lost the connection to the robot at {self.host}: {err}"}
        return {
            "robot_mode": str(state.robot_mode).split(".")[-1],
            "last_error": self.last_error or self.gripper.last_error,
            "control_loop_hz": rate,  # franky's cycles (held), or the law's ticks (in-loop)
            "missed_cycles": self.loop.missed,
            "command_age_ms": 1e3 * (now - self._command_time) if self._command_time else -1.0,
            "motions_stopped": self.motions_stopped,
            "external_wrench": " ".join(f"{v:.1f}" for v in state.O_F_ext_hat_K),
        }


def _panda_torque_limits(robot) -> np.ndarray:
    """The profile's MJCF actuator limits (the Panda's datasheet torques)."""
    from polyarm_description import joint_limits, load_model

    return joint_limits(load_model(robot), robot).effort


def _not_ready(state) -> str:
    """Why the robot would refuse a motion now, in words (empty when it is ready)."""
    mode = str(state.robot_mode).split(".")[-1]
    if mode == "Other":
        return ("the robot is not ready for commands (mode Other): open the brakes and activate FCI in Desk, "
                "and release the user stop")
    if mode == "UserStopped":
        return "the user stop is pressed: release it (and reactivate FCI if Desk asks)"
    errors = _error_names(state.current_errors)
    if mode == "Reflex" or errors:
        return f"the robot is in a reflex ({errors or 'mode Reflex'}); call driver/recover first"
    return ""


def _error_names(errors) -> str:
    return ", ".join(n for n in dir(errors) if not n.startswith("_") and getattr(errors, n) is True)


def _explain(err: Exception, host: str, realtime: str) -> str:
    """What a lab hits first, in words."""
    text = str(err)
    lowered = text.lower()
    if "realtime" in lowered or "real-time" in lowered:
        return (f"{text}: the robot PC has no real-time kernel; install one, or run with realtime ignore "
                "(franky-sim, or a machine where jitter is acceptable)")
    if "connect" in lowered or "network" in lowered or "timeout" in lowered:
        return (f"cannot reach the robot at {host} ({text}): check the cable and the address, that FCI is enabled in "
                "Desk, and that the brakes are open")
    return f"{type(err).__name__}: {text}"
