"""DynamixelDriver: a WidowX 250 (wx250s, wx250) on its Dynamixel bus, over ROBOTIS's dynamixel-sdk.

The profile's `servo_bus` names each servo (Interbotix's layout). At connect every ID is pinged and its
model checked, naming any servo that is missing or wrong; then, torque off, each servo is put in
position mode with the profile's velocity and acceleration, and each shadow (the second servo on the
shoulder and on the elbow, mounted reversed) gets Drive Mode's reverse bit; then goal = present and
torque on. After that:
- `read()`: one group sync read of Present Current, Velocity and Position (10 bytes from address 126)
  for every servo. A failed read ("there is no status packet") is retried and counted; after
  `read_retries` failed reads in a row the driver holds: it stops commanding, asks every servo that
  still answers to hold where it stands (goal = present, torque on), names the servo that does not
  answer, and refuses commands until `driver/reboot` or a restart. The last reading keeps its old
  stamp, so the controller sees joint_states go stale and holds too.
- `write()`: one group sync write of Goal Position for every arm servo, shadows the same value as their
  master (the arm needs both; with the reverse bit the same number is the same joint angle), and the
  gripper's goal.
- Hardware Error Status is read once a second, named in diagnostics; `reboot()` reboots the faulted
  servos (torque comes back with goal = present), `set_torque(on)` switches every servo.
- `home(q)`: a slow move (HOME_SPEED) to the profile's home pose, for the driver node's driver/home.
- `close()`: torque stays on unless `torque_off_at_shutdown` (the arm must not fall).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from polyarm_core.driver import CommandRefused, DriverError, JointReading, RobotDriver, validate_command
from polyarm_core.options import option
from polyarm_description import joint_limits, load_model

from polyarm_drivers import dynamixel_table as T

STATE_ADDRESS, STATE_SIZE = T.ADDRESS["present_current"], 10  # current 2, velocity 4, position 4
ERROR_CHECK_S = 1.0
PING_ATTEMPTS = 5  # tries of a ping or a configuration write before a servo counts as silent
RETRY_PAUSE_S = 0.02  # between them: a busy host's bus process gets a moment to catch up
BUS_WAIT_S = 3.0
HOME_SPEED = 0.5  # rad/s of each servo's profile while homing


@dataclass(frozen=True)
class DynamixelConfig:
    port: str = option("/dev/ttyDXL", "the bus's serial device (U2D2), or the fake bus's pty")
    baud: int = option(1000000, "bus baud rate")
    read_retries: int = option(10, "failed sync reads in a row before the driver holds the arm and says which servo")
    torque_off_at_shutdown: bool = option(False, "switch torque off when the driver stops (the arm may fall)")


class DynamixelDriver(RobotDriver):
    config_class = DynamixelConfig
    capabilities = frozenset({"home", "servo_bus"})
    position_resolution = 2.0 * np.pi / T.TICKS_PER_TURN  # rad: one encoder step

    def __init__(self, robot, config: DynamixelConfig = DynamixelConfig()):
        if not robot.servo_bus:
            raise ValueError(f"the dynamixel driver drives a servo arm with a bus layout, not the {robot.name}")
        self.robot, self.port_name, self.baud = robot, config.port, config.baud
        self.read_retries, self.torque_off_at_shutdown = config.read_retries, config.torque_off_at_shutdown
        self.servos = robot.servo_bus["servos"]  # (name, id, model)
        self.ids = [dxl_id for _, dxl_id, _ in self.servos]
        self.name_of = {dxl_id: name for name, dxl_id, _ in self.servos}
        self.id_of = {name: dxl_id for name, dxl_id, _ in self.servos}
        self.gripper_angles = robot.servo_bus["gripper_angles"]
        self._limits = joint_limits(load_model(robot), robot)  # the MJCF's joint ranges: goals beyond are refused
        self._lock = threading.Lock()  # one transaction on the bus at a time
        self._goals: dict[int, int] = {}
        self._last: JointReading | None = None
        self._failures_in_a_row = 0
        self.read_failures = 0
        self.held_because = ""
        self.hardware_errors: dict[str, str] = {}
        self._errors_checked = 0.0
        self._homing = False
        self.last_error = ""

    # ------------------------------------------------------------- connection
    def connect(self) -> None:
        from dynamixel_sdk import GroupSyncRead, GroupSyncWrite, PacketHandler, PortHandler

        self.port, self.packets = PortHandler(self.port_name), PacketHandler(2.0)
        try:
            opened = self.port.openPort() and self.port.setBaudRate(self.baud)
        except Exception as err:  # noqa: BLE001 - pyserial's reasons (no such device, permission) are the message
            raise DriverError(f"cannot open the Dynamixel bus at {self.port_name}: {err}") from None
        if not opened:
            raise DriverError(f"cannot open the Dynamixel bus at {self.port_name} at {self.baud} baud")
        self._check_servos()
        self._configure()
        self._reader = GroupSyncRead(self.port, self.packets, STATE_ADDRESS, STATE_SIZE)
        for dxl_id in self.ids:
            self._reader.addParam(dxl_id)
        self._writer = GroupSyncWrite(self.port, self.packets, T.ADDRESS["goal_position"], 4)
        reading = self._read_bus() or self._read_bus()  # once more: a lost status packet is common
        if reading is None:
            raise DriverError(f"the servos answered a ping but not a sync read on {self.port_name}")
        self._last = reading  # what read() returns until a newer reading arrives
        self._hold_at(reading)
        self.set_torque(True)

    def _wait_for_the_bus(self) -> None:
        """Until the first servo answers, up to BUS_WAIT_S: a bus just powered (or a busy host) can miss the
        first pings. A bus that never answers is named as such, not servo by servo."""
        name, dxl_id, _ = self.servos[0]
        deadline = time.monotonic() + BUS_WAIT_S
        while self.packets.ping(self.port, dxl_id)[1] != 0:
            if time.monotonic() > deadline:
                return  # _check_servos names what is missing
            time.sleep(0.05)

    def _check_servos(self) -> None:
        self._wait_for_the_bus()
        problems = []
        for name, dxl_id, model in self.servos:
            for _ in range(PING_ATTEMPTS):  # a first reply can come late (a bus just powered, a busy host)
                number, result, _ = self.packets.ping(self.port, dxl_id)
                if result == 0:
                    break
                time.sleep(RETRY_PAUSE_S)
            if result != 0:
                problems.append(f"{name} (ID {dxl_id}) does not answer")
            elif number != T.MODEL_NUMBERS[model]:
                found = T.MODEL_NAMES.get(number, f"model number {number}")
                problems.append(f"{name} (ID {dxl_id}) is a {found}, the {self.robot.name} has a {model} there")
        if problems:
            raise DriverError(f"on {self.port_name}: " + "; ".join(problems) + " (check the cables and the IDs)")

    def _configure(self) -> None:
        """Torque off (EEPROM is writable only then), position mode, shadows reversed, the servo profile."""
        bus = self.robot.servo_bus
        velocity = round(bus["profile_velocity"] / T.VELOCITY_UNIT)
        acceleration = round(bus["profile_acceleration"] / T.ACCELERATION_UNIT)
        for name, dxl_id, _ in self.servos:
            self._write(dxl_id, "torque_enable", 0)
            self._write(dxl_id, "operating_mode", T.POSITION_MODE)
            self._write(dxl_id, "drive_mode", T.DRIVE_MODE_REVERSE if name.endswith("_shadow") else 0)
            self._write(dxl_id, "profile_velocity", velocity)
            self._write(dxl_id, "profile_acceleration", acceleration)

    def _write(self, dxl_id: int, field: str, value: int) -> None:
        write = {1: self.packets.write1ByteTxRx, 2: self.packets.write2ByteTxRx, 4: self.packets.write4ByteTxRx}
        for _ in range(PING_ATTEMPTS):  # a lost status packet is asked again (the write is idempotent)
            with self._lock:
                result, error = write[T.SIZE[field]](self.port, dxl_id, T.ADDRESS[field],
                                                     int(value) % (1 << (8 * T.SIZE[field])))
            if result == 0:
                break
            time.sleep(RETRY_PAUSE_S)
        if result != 0 or (error & 0x7F):
            reason = self.packets.getTxRxResult(result) if result != 0 else self.packets.getRxPacketError(error)
            raise DriverError(f"writing {field} of {self.name_of[dxl_id]} (ID {dxl_id}) failed: {reason}")

    def _read1(self, dxl_id: int, field: str) -> int | None:
        with self._lock:
            value, result, _ = self.packets.read1ByteTxRx(self.port, dxl_id, T.ADDRESS[field])
        return value if result == 0 else None

    # ------------------------------------------------------------------ read
    def read(self) -> JointReading:
        reading = self._read_bus()
        if reading is not None:
            self._failures_in_a_row = 0
            self._last = reading
        else:
            self.read_failures += 1
            self._failures_in_a_row += 1
            if self._failures_in_a_row >= self.read_retries and not self.held_because:
                self._hold_after_failure()
        if time.monotonic() - self._errors_checked > ERROR_CHECK_S:
            self._check_hardware_errors()
        return self._last

    def _read_bus(self) -> JointReading | None:
        with self._lock:
            result = self._reader.txRxPacket()
        if result != 0:
            return None
        stamp = time.time_ns()
        data, values = self._reader.getData, {}
        for dxl_id in self.ids:
            current = T.signed(data(dxl_id, STATE_ADDRESS, 2), 2)
            velocity = T.signed(data(dxl_id, STATE_ADDRESS + 2, 4), 4)
            position = T.signed(data(dxl_id, STATE_ADDRESS + 6, 4), 4)
            values[self.name_of[dxl_id]] = (T.ticks_to_radians(position), velocity * T.VELOCITY_UNIT,
                                            current * T.CURRENT_UNIT * T.TORQUE_PER_AMP)
        no_shadow = (0.0, 0.0, 0.0)
        arm = [(*values[j][:2], values[j][2] + values.get(f"{j}_shadow", no_shadow)[2])  # a joint's effort: both servos'
               for j in self.robot.arm_joints]
        closed, opened = self.gripper_angles
        opening = float(np.clip((values["gripper"][0] - closed) / (opened - closed), 0.0, 1.0))
        finger = self.robot.finger_position(opening)
        names = tuple(self.robot.arm_joints) + tuple(self.robot.finger_joints)
        position = np.array([a[0] for a in arm] + [finger, finger])
        velocity = np.array([a[1] for a in arm] + [0.0, 0.0])
        effort = np.array([a[2] for a in arm] + [0.0, 0.0])
        return JointReading(names, position, velocity, effort, opening, stamp)

    def _missing_servos(self) -> list[str]:
        missing = []
        for name, dxl_id, _ in self.servos:
            with self._lock:
                _, result, _ = self.packets.ping(self.port, dxl_id)
            if result != 0:
                missing.append(f"{name} (ID {dxl_id})")
        return missing

    def _hold_after_failure(self) -> None:
        missing = self._missing_servos()
        self.held_because = (f"{', '.join(missing) or 'a servo'} stopped answering after {self._failures_in_a_row} "
                             "failed reads: holding the arm (the others keep their pose); driver/reboot or restart")
        self.last_error = self.held_because
        with self._lock:
            self._writer.clearParam()
            self._goals = {}  # no more goals go out: each servo holds the last one it got

    def _check_hardware_errors(self) -> None:
        self._errors_checked = time.monotonic()
        errors = {}
        for name, dxl_id, _ in self.servos:
            status = self._read1(dxl_id, "hardware_error_status")
            if status:
                errors[f"{name} (ID {dxl_id})"] = T.describe_hardware_error(status)
        if errors and errors != self.hardware_errors:
            self.last_error = "hardware error: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
        self.hardware_errors = errors

    # ----------------------------------------------------------------- write
    def write(self, names, values) -> None:
        if self.held_because:
            raise CommandRefused(self.held_because)
        if self._homing:
            raise CommandRefused("the arm is homing (driver/home); commands resume when it is there")
        positions = validate_command(self.robot, names, values, self._limits.lower, self._limits.upper)
        self._send(self._arm_goals(positions))

    def command_gripper(self, opening: float) -> None:
        if not np.isfinite(opening):
            raise CommandRefused(f"gripper command {opening} is not finite")
        self._send({self.id_of["gripper"]: self._gripper_ticks(opening)})

    def _send(self, goals: dict[int, int]) -> None:
        with self._lock:
            self._goals.update(goals)
            self._writer.clearParam()
            for dxl_id, ticks in self._goals.items():
                self._writer.addParam(dxl_id, int(ticks).to_bytes(4, "little", signed=True))
            self._writer.txPacket()

    def _arm_goals(self, positions) -> dict[int, int]:
        """Goal Position of each arm servo for joint `positions` (rad): a shadow gets its master's value,
        which its reverse bit makes the same joint angle."""
        goals = {self.id_of[j]: T.radians_to_ticks(q) for j, q in zip(self.robot.arm_joints, positions)}
        for joint in self.robot.arm_joints:
            if f"{joint}_shadow" in self.id_of:
                goals[self.id_of[f"{joint}_shadow"]] = goals[self.id_of[joint]]
        return goals

    def _gripper_ticks(self, opening: float) -> int:
        closed, opened = self.gripper_angles
        return T.radians_to_ticks(closed + float(np.clip(opening, 0.0, 1.0)) * (opened - closed))

    def _hold_at(self, reading: JointReading) -> None:
        """Goal = present for every servo (before torque on, and to stop)."""
        goals = self._arm_goals(reading.position[:self.robot.dof])
        goals[self.id_of["gripper"]] = self._gripper_ticks(reading.gripper_opening)
        self._send(goals)

    # ------------------------------------------------------------- services
    def stop(self) -> None:
        if self._last is not None and not self.held_because:
            self._hold_at(self._last)

    def home(self, q_home, timeout: float = 15.0) -> None:
        """A slow move to `q_home`: the servos' own profile at HOME_SPEED, until every joint is within two
        encoder steps of it (or `timeout`). Commands are refused meanwhile."""
        if self.held_because:
            raise CommandRefused(self.held_because)
        velocity = round(HOME_SPEED / T.VELOCITY_UNIT)
        self._homing = True
        try:
            for _, dxl_id, _ in self.servos:
                self._write(dxl_id, "profile_velocity", velocity)
            goals = self._arm_goals(q_home)
            self._send(goals)
            deadline = time.monotonic() + timeout
            while np.abs(self.read().position[:self.robot.dof] - q_home).max() > 2 * self.position_resolution:
                if time.monotonic() > deadline:
                    raise CommandRefused(f"homing did not arrive within {timeout:.0f} s")
                time.sleep(0.02)
        finally:
            profile = round(self.robot.servo_bus["profile_velocity"] / T.VELOCITY_UNIT)
            for _, dxl_id, _ in self.servos:
                self._write(dxl_id, "profile_velocity", profile)
            self._homing = False

    def set_torque(self, on: bool) -> str:
        for name, dxl_id, _ in self.servos:
            self._write(dxl_id, "torque_enable", int(on))
        return f"torque {'on' if on else 'off'} on every servo"

    def reboot(self) -> str:
        """Reboot the servos with a hardware error (or that stopped answering), then torque on where they stand."""
        faulted = [(n, i) for n, i, _ in self.servos if f"{n} (ID {i})" in self.hardware_errors
                   or f"{n} (ID {i})" in self.held_because]
        if not faulted:
            return "no servo has a hardware error"
        for name, dxl_id in faulted:
            with self._lock:
                result, _ = self.packets.reboot(self.port, dxl_id)
            if result != 0:
                return f"{name} (ID {dxl_id}) did not answer the reboot: {self.packets.getTxRxResult(result)}"
        time.sleep(0.1)
        reading = self._read_bus()
        if reading is None:
            return f"rebooted {', '.join(n for n, _ in faulted)}, but the bus still does not answer"
        self.held_because, self._failures_in_a_row, self.hardware_errors = "", 0, {}
        self._last = reading
        self._hold_at(reading)
        for name, dxl_id in faulted:
            self._write(dxl_id, "torque_enable", 1)
        return f"rebooted {', '.join(f'{n} (ID {i})' for n, i in faulted)}: torque on, holding where they stand"

    def close(self) -> None:
        if not hasattr(self, "port"):
            return
        try:
            if self.torque_off_at_shutdown:
                self.set_torque(False)
            else:
                self.stop()
        except DriverError:
            pass  # a bus that is gone: nothing to leave holding
        self.port.closePort()

    def diagnostics(self) -> dict:
        return {"read_failures": self.read_failures, "last_error": self.last_error,
                "held": self.held_because or "no",
                "hardware_errors": "; ".join(f"{k}: {v}" for k, v in self.hardware_errors.items()) or "none"}
