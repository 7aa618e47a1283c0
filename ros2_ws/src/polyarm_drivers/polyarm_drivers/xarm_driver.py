"""XArmDriver: a UFACTORY xArm 7 over xarm-python-sdk's XArmAPI, as a RobotDriver.

At connect the controller's version and its error and warning codes are read (an error standing at start
is named with the SDK's own meaning, and the driver refuses to start until it is cleared), then motion
is enabled, servo mode (1) set and the state set to 0, and the gripper enabled. After that:
- `read()`: the newest real-time report (TCP 30003, 100 Hz): joint angles and torques, stamped when the
  report arrived; joint velocities by differencing consecutive reports. A report stream that stops for
  REPORT_TIMEOUT_S, or a dropped connection, is a DriverError naming it (the node exits; the arm holds
  the last servo target, as the firmware does when its stream stops).
- `write()`: one `set_servo_angle_j` per command (the controller's position targets). A target the
  controller refuses (it raises an error: 24, a joint too fast; 23, a joint limit) is a CommandRefused
  naming the code and the SDK's meaning; the arm is stopped by the firmware until `recover()`.
- the real-time report carries no error codes: a thread asks for them every ERROR_POLL_S (so `read()`
  never waits on the network), and `write()` asks at once when a reply says an error stands.
- the gripper: one worker thread owns the gripper calls (each is a Modbus round trip through the
  controller): the newest opening as a position in pulses, and the measured position between commands.
- `recover()`: clean the error and warning, enable motion, servo mode, state 0 (driver/recover); then
  targets farther than RESYNC_RAD from the arm are refused until the controller resumes from its pose
  (the driver node asks it to), since the targets it kept computing while the arm stood would fault again.
- `home(q)`: position mode (0) and a slow `set_servo_angle` to q, then servo mode again.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from polyarm_core.driver import CommandRefused, DriverError, JointReading, RobotDriver, validate_command
from polyarm_core.options import option
from polyarm_description import joint_limits, load_model

REPORT_TIMEOUT_S = 0.5
ERROR_POLL_S = 0.5
READY_TIMEOUT_S = 3.0
GRIPPER_POLL_S = 0.1
GRIPPER_SPEED = 3000  # pulses/s: the xArm Gripper's own speed unit
HOME_SPEED, HOME_ACCELERATION = 0.35, 2.0  # rad/s, rad/s^2: a slow, predictable move
RESYNC_RAD = 0.05  # after a recovery, targets farther than this from the arm wait for the controller to resume


@dataclass(frozen=True)
class XArmConfig:
    host: str = option("", "the xArm controller's address (polyarm fake-robot --robot xarm7: 127.0.0.1)")
    uds: bool = option(False, "also try the controller's Unix socket (only on the control box itself)")


def describe_code(code: int, kind: str = "error") -> str:
    """A controller error or warning code with the SDK's own meaning."""
    from xarm.core.config.x_code import ControllerError, ControllerWarn

    if not code:
        return "none"
    info = (ControllerError if kind == "error" else ControllerWarn)(code)
    return f"{kind} {code}: {info.title['en']}"


class XArmDriver(RobotDriver):
    config_class = XArmConfig
    capabilities = frozenset({"home", "recover"})
    position_resolution = 1e-6  # rad: the SDK rounds reported angles to 6 decimals

    def __init__(self, robot, config: XArmConfig = XArmConfig()):
        host = config.host
        if not host:
            raise ValueError("the xarm driver needs the controller's address (--host IP)")
        if not robot.xarm_controller:
            raise ValueError(f"the xarm driver drives a UFACTORY arm, not the {robot.name}")
        self.robot, self.host, self.uds = robot, host, config.uds
        self._limits = joint_limits(load_model(robot), robot)
        self._pulses = float(robot.xarm_controller["gripper_pulses"])
        self.arm = None
        self._lock = threading.Lock()  # the newest report
        self._report = None  # (stamp_ns, monotonic, angles, torques)
        self._velocity = np.zeros(robot.dof)
        self._reports, self._reports_since = 0, time.monotonic()
        self.error_code = self.warn_code = 0
        self.last_error = ""
        self._opening = 1.0
        self._gripper_request: float | None = None
        self._gripper_wake = threading.Event()
        self._homing = False
        self._resync = False  # after a recovery: until a target near the arm arrives
        self._running = False

    # ------------------------------------------------------------- connection
    def connect(self) -> None:
        from xarm.wrapper import XArmAPI

        try:
            self.arm = XArmAPI(self.host, is_radian=True, do_not_open=True, report_type="real",
                               forbid_uds=not self.uds)
            self.arm.connect()
        except Exception as err:  # noqa: BLE001 - the SDK raises a bare Exception with its reason
            raise DriverError(f"cannot reach the xArm controller at {self.host} ({err}): check the cable, the "
                              "address and that the controller is on") from None
        self.arm.register_report_location_callback(self._on_report, report_cartesian=False, report_joints=True)
        self._check_errors()
        if self.error_code:
            raise DriverError(f"the controller at {self.host} reports {describe_code(self.error_code)}; clear it "
                              "(driver/recover, or UFACTORY Studio) before starting")
        message = self._enable_servo_mode()
        if message:
            raise DriverError(message)
        self._wait_for_report()
        self._running = True
        self._gripper_thread = threading.Thread(target=self._gripper_worker, name="gripper", daemon=True)
        self._gripper_thread.start()
        threading.Thread(target=self._watch_errors, name="errors", daemon=True).start()

    def _enable_servo_mode(self) -> str:
        """Motion on, servo mode, state 0; a message naming what failed (empty when the arm is ready)."""
        arm = self.arm
        if self.warn_code:
            arm.clean_warn()
        for step, call in (("motion_enable", lambda: arm.motion_enable(True)), ("set_mode(1)", lambda: arm.set_mode(1)),
                           ("set_state(0)", lambda: arm.set_state(0))):
            code = call()  # in order, stopping at the first that fails
            if code != 0:
                return f"{step} failed with code {code} on the controller at {self.host}"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (arm.get_state()[1] in (1, 2) and arm.mode == 1):
            if time.monotonic() > deadline:
                self._check_errors()
                return (f"the arm at {self.host} did not get ready for servo commands (state {arm.state}, mode "
                        f"{arm.mode}, {describe_code(self.error_code)})")
            time.sleep(0.02)
        return ""

    def _wait_for_report(self) -> None:
        deadline = time.monotonic() + 2.0
        while self._report is None:
            if time.monotonic() > deadline:
                raise DriverError(f"no real-time report from the xArm controller at {self.host} (TCP 30003)")
            time.sleep(0.01)

    def _on_report(self, item) -> None:
        """The SDK's report thread, at each real-time report (100 Hz)."""
        now, stamp = time.monotonic(), time.time_ns()
        angles = np.asarray(item["joints"][:self.robot.dof], float)
        torques = np.asarray(self.arm.joints_torque[:self.robot.dof], float)
        with self._lock:
            if self._report is not None:
                dt = now - self._report[1]
                if dt > 1e-3:
                    self._velocity = (angles - self._report[2]) / dt
            self._report = (stamp, now, angles, torques)
            self._reports += 1

    # ------------------------------------------------------------------ read
    def read(self) -> JointReading:
        if not self.arm.connected:
            raise DriverError(f"lost the connection to the xArm controller at {self.host}")
        with self._lock:
            stamp, arrived, angles, torques = self._report
            velocity = self._velocity.copy()
        if time.monotonic() - arrived > REPORT_TIMEOUT_S:
            raise DriverError(f"lost the connection to the xArm controller at {self.host}: no real-time report for "
                              f"{time.monotonic() - arrived:.1f} s")
        finger = self.robot.finger_position(self._opening)
        names = tuple(self.robot.arm_joints) + tuple(self.robot.finger_joints)
        return JointReading(names, np.concatenate([angles, [finger, finger]]),
                            np.concatenate([velocity, [0.0, 0.0]]), np.concatenate([torques, [0.0, 0.0]]),
                            self._opening, stamp)

    def _watch_errors(self) -> None:
        while self._running:
            self._check_errors()
            time.sleep(ERROR_POLL_S)

    def _check_errors(self) -> None:
        """The controller's error and warning codes (the real-time report has none)."""
        if not self.arm.connected:
            return  # read() names the lost connection
        result = self.arm.get_err_warn_code()
        if result[0] != 0:
            return
        error, warning = result[1]
        if error and error != self.error_code:
            self.last_error = f"the controller stopped the arm: {describe_code(error)}"
        self.error_code, self.warn_code = error, warning

    # ----------------------------------------------------------------- write
    def write(self, names, values) -> None:
        if self._homing:
            raise CommandRefused("the arm is homing (driver/home); commands resume when it is there")
        if self.error_code:
            raise CommandRefused(f"the controller has {describe_code(self.error_code)}: call driver/recover")
        positions = validate_command(self.robot, names, values, self._limits.lower, self._limits.upper)
        if not self.arm.connected:
            raise CommandRefused(f"lost the connection to the xArm controller at {self.host}")
        if self._resync:  # the controller's targets ran on while the arm stood; the firmware would fault again
            if np.abs(positions - self._report[2]).max() > RESYNC_RAD:
                raise CommandRefused("recovered: waiting for a target near the arm's pose (controller/resume)")
            self._resync = False
        code = self.arm.set_servo_angle_j([float(q) for q in positions], is_radian=True)
        if code != 0:
            self._check_errors()
            reason = describe_code(self.error_code) if self.error_code else f"SDK code {code}"
            raise CommandRefused(f"the controller refused the servo target: {reason}")

    def command_gripper(self, opening: float) -> None:
        """The newest opening goes to the gripper worker, so the arm's stream never waits on the gripper."""
        if not np.isfinite(opening):
            raise CommandRefused(f"gripper command {opening} is not finite")
        with self._lock:
            self._gripper_request = float(np.clip(opening, 0.0, 1.0))
        self._gripper_wake.set()

    def _gripper_worker(self) -> None:
        arm, last = self.arm, None
        try:
            arm.set_gripper_mode(0)
            arm.set_gripper_enable(True)
            arm.set_gripper_speed(GRIPPER_SPEED)
        except Exception as err:  # noqa: BLE001 - no gripper fitted: said; the arm runs without it
            self.last_error = f"gripper: {err}"
        while self._running:
            with self._lock:
                request, self._gripper_request = self._gripper_request, None
            try:
                if request is not None and request != last:
                    code = arm.set_gripper_position(request * self._pulses, wait=False)
                    last = request if code == 0 else None
                    if code != 0:
                        self.last_error = f"gripper: set_gripper_position failed with code {code}"
                code, pulses = arm.get_gripper_position()
                if code == 0 and pulses is not None:
                    self._opening = float(np.clip(pulses / self._pulses, 0.0, 1.0))
            except Exception as err:  # noqa: BLE001 - a lost connection: read() names it
                self.last_error = f"gripper: {err}"
            self._gripper_wake.wait(GRIPPER_POLL_S)
            self._gripper_wake.clear()

    # ------------------------------------------------------------- services
    def stop(self) -> None:
        """Hold where the arm stands: its measured angles as the servo target."""
        if self.arm is None or not self.arm.connected or self.error_code or self._report is None:
            return  # the firmware has stopped it already, or there is nothing to hold
        self.arm.set_servo_angle_j([float(q) for q in self._report[2]], is_radian=True)

    def recover(self) -> str:
        """Clear the controller's error and warning, enable motion, servo mode, state 0."""
        before = describe_code(self.error_code)
        self.arm.clean_error()
        self.arm.clean_warn()
        message = self._enable_servo_mode()
        self._check_errors()
        if message or self.error_code:
            return f"recovery failed: {message or describe_code(self.error_code)}"
        self.last_error = ""
        self._resync = True
        return f"recovered from {before}: servo mode, ready"

    def home(self, q_home) -> None:
        """Position mode and a slow joint move to `q_home`, blocking until there; then servo mode again."""
        if self.error_code:
            raise CommandRefused(f"the controller has {describe_code(self.error_code)}: call driver/recover")
        self._homing = True
        try:
            self.arm.set_mode(0)
            self.arm.set_state(0)
            code = self.arm.set_servo_angle(angle=[float(q) for q in q_home], speed=HOME_SPEED,
                                            mvacc=HOME_ACCELERATION, wait=True, is_radian=True)
            if code != 0:
                self._check_errors()
                raise CommandRefused(f"homing failed: {describe_code(self.error_code) if self.error_code else code}")
        finally:
            message = self._enable_servo_mode()
            self._homing = False
        if message:
            raise CommandRefused(message)

    def close(self) -> None:
        self._running = False
        if self.arm is None:
            return
        self._gripper_wake.set()
        if hasattr(self, "_gripper_thread"):
            self._gripper_thread.join(timeout=2.0)
        try:
            self.stop()
        finally:
            self.arm.disconnect()

    def diagnostics(self) -> dict:
        now = time.monotonic()
        rate = self._reports / max(now - self._reports_since, 1e-9)
        self._reports, self._reports_since = 0, now
        arm = self.arm
        return {"state": arm.state, "mode": arm.mode, "error": describe_code(self.error_code),
                "warning": describe_code(self.warn_code, "warning"), "report_hz": rate,
                "last_error": self.last_error}
