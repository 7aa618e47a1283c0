"""A simulated Dynamixel bus: Protocol 2.0 on a pseudo-terminal, one X-series servo per ID, with the
project's MuJoCo WidowX moving behind it in real time (`polyarm fake-robot --robot wx250s|wx250`).
ROBOTIS's own protocol2_0 example programs run against it unmodified (tests/test_vendor_examples.py).

Any Dynamixel tool opens the printed device like /dev/ttyDXL. What it speaks, byte for byte:
- packets: header FF FF FD 00, ID, length, instruction, parameters, CRC-16 (poly 0x8005) over the
  stuffed bytes; FF FF FD inside a packet is sent as FF FF FD FD.
- instructions: PING (and broadcast ping), READ, WRITE, REG WRITE and ACTION, FACTORY RESET, REBOOT,
  CLEAR (multi-turn), SYNC READ/WRITE, BULK READ/WRITE, FAST SYNC READ and FAST BULK READ (one status
  packet for all the servos); any other gets an instruction error.
- each servo's whole control table (polyarm_fakes.x_series), with the e-Manual's answers: a value out of
  an item's range (a goal beyond the position limits) gets a data range error; a write to a read-only
  item, or to EEPROM or an indirect address while torque is on, an access error; the error byte carries
  the alert bit (0x80) while Hardware Error Status is set; a reboot clears it and leaves torque off.
  Model numbers and the EEPROM (IDs, position limits) are those of the WidowX's servos.
- behind it: each joint's setpoint moves toward Goal Position within Profile Velocity and Acceleration,
  and the MuJoCo arm follows the setpoints; Present Position, Velocity and Current come from it. A shadow
  servo must be commanded as its master (and, mounted reversed, have Drive Mode's reverse bit set): if
  the two pull apart by more than SHADOW_FIGHT_TICKS, both overload, as the real pair would.
- faults a lab sees, on the fake's standard input (FAULT_HELP) or the same methods in Python.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np
from polyarm_description import ROBOTS, RobotProfile, get_robot
from polyarm_drivers import dynamixel_table as T

from polyarm_fakes.faults import BUS_FAULT_HELP as FAULT_HELP
from polyarm_fakes.faults import BUS_FAULTS as FAULTS
from polyarm_fakes.x_series import Servo

BROADCAST = 0xFE
PING, READ, WRITE, REG_WRITE, ACTION, FACTORY_RESET, REBOOT, CLEAR = 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x10
STATUS, SYNC_READ, SYNC_WRITE, FAST_SYNC_READ, BULK_READ, BULK_WRITE, FAST_BULK_READ = 0x55, 0x82, 0x83, 0x8A, 0x92, 0x93, 0x9A
OVERLOAD, OVERHEATING = 0x20, 0x04  # Hardware Error Status bits
SHADOW_FIGHT_TICKS = 200  # about 18 degrees between a shadow's goal and its master's
SYNC_HZ = 500.0  # how often the servos and the MuJoCo arm exchange setpoints and measurements
SERVO_STIFFNESS = 4.0  # the X-series' position loop against the sim's softer position actuators: see _stiffen


def crc16(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """FF FF FD -> FF FF FD FD in the instruction and parameters (the header is never stuffed)."""
    out = bytearray()
    for byte in body:
        out.append(byte)
        if byte == 0xFD and out[-3:-1] == b"\xff\xff":
            out.append(0xFD)
    return bytes(out)


def unstuff(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if body[i] == 0xFD and out[-3:-1] == b"\xff\xff" and i + 1 < len(body) and body[i + 1] == 0xFD:
            i += 1  # drop the stuffed FD
        i += 1
    return bytes(out)


def packet(dxl_id: int, instruction: int, parameters: bytes) -> bytes:
    """A whole packet: header, ID, length, stuffed instruction and parameters, CRC."""
    body = stuff(bytes([instruction]) + parameters)
    head = bytes([0xFF, 0xFF, 0xFD, 0x00, dxl_id]) + (len(body) + 2).to_bytes(2, "little")
    crc = crc16(head + body)
    return head + body + crc.to_bytes(2, "little")


def status(dxl_id: int, error: int, parameters: bytes = b"") -> bytes:
    return packet(dxl_id, STATUS, bytes([error]) + parameters)


class DynamixelBus:
    """The servos of one arm and the MuJoCo arm behind them. `handle(raw)` answers one packet."""

    def __init__(self, robot: RobotProfile, realtime: bool = True):
        from sim_bridge.devices import StandaloneMujocoDriver

        self.robot = robot
        bus = self.robot.servo_bus
        self.gripper_angles = bus["gripper_angles"]
        self.arm = StandaloneMujocoDriver.create(self.robot, realtime=realtime)
        _stiffen(self.arm.sim)
        self.chain = [Servo(name, dxl_id, model, self._eeprom(name)) for name, dxl_id, model in bus["servos"]]
        self.by_name = {s.name: s for s in self.chain}
        self._rekey()
        self.lock = threading.Lock()
        self._running = False
        self.packets = 0

    def _eeprom(self, name: str) -> dict[str, int]:
        """A servo's EEPROM as Interbotix configures it: position mode, and position limits at its joint's
        stops (the gripper's at its open and closed angles; a shadow's at its master's, as it is reversed)."""
        joint = name.removesuffix("_shadow")
        if joint == "gripper":
            low, high = sorted(self.gripper_angles)
        else:
            i = self.robot.arm_joints.index(joint)
            low, high = self.arm.sim.limits.lower[i], self.arm.sim.limits.upper[i]
        limits = sorted(int(np.clip(T.radians_to_ticks(a), 0, T.TICKS_PER_TURN - 1)) for a in (low, high))
        return {"baud_rate": 3, "return_delay_time": 0, "operating_mode": T.POSITION_MODE,
                "min_position_limit": limits[0], "max_position_limit": limits[1]}

    def _rekey(self) -> None:
        """The servos by the ID each answers on now (a write of ID, or a factory reset, moves one)."""
        self.servos = {servo.id: servo for servo in reversed(self.chain)}

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.arm.connect()
        self._measure(self.arm.read())
        for servo in self.servos.values():
            servo.setpoint = self._present(servo)
            servo.set("goal_position", servo.get("present_position"))
        self._running = True
        self._thread = threading.Thread(target=self._sync, name="servos", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2.0)
        self.arm.close()

    # ------------------------------------------------------------ faults
    def unplug(self, dxl_id: int, unplugged: bool = True) -> None:
        self.servos[dxl_id].unplugged = unplugged

    def overload(self, dxl_id: int) -> None:
        with self.lock:
            self.servos[dxl_id].fault(OVERLOAD)

    def overheat(self, dxl_id: int) -> None:
        """The motor past its Temperature Limit: the overheating bit, torque dropped."""
        with self.lock:
            servo = self.servos[dxl_id]
            servo.set("present_temperature", servo.get("temperature_limit") + 1)
            servo.fault(OVERHEATING)

    def late(self, dxl_id: int, seconds: float) -> None:
        self.servos[dxl_id].late_s = seconds

    # ------------------------------------------------------------ protocol
    def handle(self, raw: bytes) -> list[tuple[float, bytes]]:
        """One whole packet in; the replies out, each with how late it is (s)."""
        dxl_id, length = raw[4], int.from_bytes(raw[5:7], "little")
        if crc16(raw[:-2]) != int.from_bytes(raw[-2:], "little"):
            return self._reply(dxl_id, T.CRC_ERROR) if dxl_id != BROADCAST else []
        body = unstuff(raw[7:7 + length - 2])
        instruction, params = body[0], body[1:]
        self.packets += 1
        with self.lock:
            replies = self._instruction(dxl_id, instruction, params)
            self._rekey()
            return replies

    def _instruction(self, dxl_id: int, instruction: int, params: bytes) -> list[tuple[float, bytes]]:
        word = lambda at: int.from_bytes(params[at:at + 2], "little")  # noqa: E731
        if instruction == PING:
            ids = sorted(self.servos) if dxl_id == BROADCAST else [dxl_id]
            return [r for i in ids for r in self._reply(i, 0, self._ping_data(i))]
        if instruction in (SYNC_READ, FAST_SYNC_READ):
            reads = [(i, word(0), word(2)) for i in params[4:]]
            return self._fast_read(reads) if instruction == FAST_SYNC_READ else \
                [r for read in reads for r in self._read(*read)]
        if instruction in (BULK_READ, FAST_BULK_READ):
            reads = [(params[k], word(k + 1), word(k + 3)) for k in range(0, len(params), 5)]
            return self._fast_read(reads) if instruction == FAST_BULK_READ else \
                [r for read in reads for r in self._read(*read)]
        if instruction == SYNC_WRITE:  # no status packets: a value a servo cannot take is dropped there
            address, size = word(0), word(2)
            for k in range(4, len(params), size + 1):
                self._write_quietly(params[k], address, params[k + 1:k + 1 + size])
            return []
        if instruction == BULK_WRITE:
            k = 0
            while k + 5 <= len(params):
                size = word(k + 3)
                self._write_quietly(params[k], word(k + 1), params[k + 5:k + 5 + size])
                k += 5 + size
            return []
        if instruction == ACTION:
            for servo in (list(self.servos.values()) if dxl_id == BROADCAST else [self.servos.get(dxl_id)]):
                if servo is not None and getattr(servo, "registered", None):
                    servo.write(*servo.registered)
                    servo.registered = None
                    servo.set("registered_instruction", 0)
            return []  # no status packet: dynamixel-sdk sends ACTION and reads nothing back
        servo = self.servos.get(dxl_id)
        if servo is None or servo.unplugged:
            return []
        if instruction == READ:
            return self._read(dxl_id, word(0), word(2))
        if instruction == WRITE:
            return self._reply(dxl_id, servo.write(word(0), params[2:]))
        if instruction == REG_WRITE:  # held until ACTION
            servo.registered = (word(0), bytes(params[2:]))
            servo.set("registered_instruction", 1)
            return self._reply(dxl_id, 0)
        if instruction == REBOOT:
            servo.reboot()
            servo.setpoint = self._present(servo)
            return self._reply(dxl_id, 0)
        if instruction == FACTORY_RESET:
            error = servo.factory_reset(params[0] if params else 0)
            servo.setpoint = self._present(servo)
            return self._reply(dxl_id, error) if error else [(servo.late_s, status(servo.id, 0))]
        if instruction == CLEAR:
            return self._reply(dxl_id, servo.clear_multi_turn(bytes(params)))
        return self._reply(dxl_id, T.INSTRUCTION_ERROR)

    def _write_quietly(self, dxl_id: int, address: int, data: bytes) -> None:
        servo = self.servos.get(dxl_id)
        if servo is not None and not servo.unplugged:
            servo.write(address, data)

    def _ping_data(self, dxl_id: int) -> bytes:
        servo = self.servos.get(dxl_id)
        return b"" if servo is None else servo.table[0:2] + servo.table[6:7]

    def _read(self, dxl_id: int, address: int, size: int) -> list[tuple[float, bytes]]:
        servo = self.servos.get(dxl_id)
        if servo is None:
            return []
        data = servo.read(address, size)
        return self._reply(dxl_id, T.DATA_LENGTH_ERROR) if data is None else self._reply(dxl_id, 0, data)

    def _fast_read(self, reads: list[tuple[int, int, int]]) -> list[tuple[float, bytes]]:
        """FAST SYNC/BULK READ: one status packet (ID 0xFE, not stuffed) that each servo extends in turn with
        its error, ID, data and the CRC of the packet so far; a servo that does not answer cuts it short."""
        segments, late = [], 0.0
        for dxl_id, address, size in reads:
            servo = self.servos.get(dxl_id)
            if servo is None or servo.unplugged:
                break
            data = servo.read(address, size)
            segments.append(bytes([servo.error_byte(0 if data is not None else T.DATA_LENGTH_ERROR), dxl_id])
                            + (data if data is not None else bytes(size)))
            late = max(late, servo.late_s)
        if not segments:
            return []
        length = 1 + sum(len(seg) + 2 for seg in segments)  # the instruction, then each segment and its CRC
        packet = bytearray([0xFF, 0xFF, 0xFD, 0x00, BROADCAST]) + length.to_bytes(2, "little") + bytes([STATUS])
        for seg in segments:
            packet += seg
            packet += crc16(bytes(packet)).to_bytes(2, "little")
        return [(late, bytes(packet))]

    def _reply(self, dxl_id: int, error: int, data: bytes = b"") -> list[tuple[float, bytes]]:
        servo = self.servos.get(dxl_id)
        if servo is None or servo.unplugged:
            return []
        return [(servo.late_s, status(dxl_id, servo.error_byte(error), data))]

    # ------------------------------------------------------------ the arm behind the bus
    def _joint_ticks(self, servo: Servo, ticks: int) -> float:
        """A servo's position value to the joint angle (a reversed servo mirrors it)."""
        angle = T.ticks_to_radians(ticks)
        if servo.name.endswith("_shadow") and not servo.reversed:
            angle = -angle  # mounted the other way round: unreversed, its numbers run backwards
        return angle

    def _present(self, servo: Servo) -> float:
        return self._joint_ticks(servo, servo.get("present_position"))

    def _sync(self) -> None:
        period = 1.0 / SYNC_HZ
        next_time = time.monotonic()
        while self._running:
            with self.lock:
                targets = self._step_setpoints(period)
            self._drive(targets)
            gripper = self.by_name.get("gripper")
            if gripper is not None and gripper.torque:
                closed, opened = self.gripper_angles
                self.arm.command_gripper((gripper.setpoint - closed) / (opened - closed))
            reading = self.arm.read()
            with self.lock:
                self._measure(reading)
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))

    def _drive(self, targets: dict) -> None:
        limits = self.arm.sim.limits  # the joints' stops: a servo driven past one stops there
        self.arm.write(tuple(targets), np.clip(list(targets.values()), limits.lower, limits.upper))

    def _step_setpoints(self, dt: float) -> dict:
        """Each powered servo's setpoint toward its goal within its profile; a shadow and its master that
        pull apart overload together. The joint targets (masters only) for the MuJoCo arm."""
        targets = {}
        for servo in self.servos.values():
            if not servo.name.endswith("_shadow") and servo.name != "gripper":
                targets[servo.name] = None
            if not servo.torque:  # unpowered: the MuJoCo joint is held where it is (its bodies carry gravcomp)
                servo.setpoint, servo.velocity = self._present(servo), 0.0
                if servo.name in targets:
                    targets[servo.name] = servo.setpoint
                continue
            goal = self._joint_ticks(servo, servo.get("goal_position"))
            v_max = servo.get("profile_velocity") * T.VELOCITY_UNIT or 2.0 * np.pi
            a_max = servo.get("profile_acceleration") * T.ACCELERATION_UNIT or 1e3
            error = goal - servo.setpoint
            braking = np.sqrt(2.0 * a_max * abs(error))  # reach the goal at rest
            desired = np.sign(error) * min(v_max, braking, abs(error) / dt)
            servo.velocity += float(np.clip(desired - servo.velocity, -a_max * dt, a_max * dt))
            servo.setpoint += servo.velocity * dt
            if servo.name in targets:
                targets[servo.name] = servo.setpoint
        for servo in self.servos.values():
            master = self.by_name.get(servo.name.removesuffix("_shadow"))
            if servo.name.endswith("_shadow") and servo.torque and master.torque:
                if abs(T.radians_to_ticks(servo.setpoint) - T.radians_to_ticks(master.setpoint)) > SHADOW_FIGHT_TICKS:
                    servo.fault(OVERLOAD)
                    master.fault(OVERLOAD)
        return targets

    def _measure(self, reading) -> None:
        index = {name: i for i, name in enumerate(reading.names)}
        closed, opened = self.gripper_angles
        for servo in self.servos.values():
            joint = servo.name.removesuffix("_shadow")
            if joint == "gripper":
                angle, velocity, effort = closed + reading.gripper_opening * (opened - closed), 0.0, 0.0
            else:
                i = index[joint]
                angle, velocity, effort = reading.position[i], reading.velocity[i], reading.effort[i]
            sign = -1.0 if servo.name.endswith("_shadow") and not servo.reversed else 1.0
            servo.set("present_position", T.radians_to_ticks(sign * angle))
            servo.set("present_velocity", round(sign * velocity / T.VELOCITY_UNIT))
            share = 0.5 if servo.name.endswith("_shadow") or f"{servo.name}_shadow" in self.by_name else 1.0
            servo.set("present_current", round(sign * share * effort / T.TORQUE_PER_AMP / T.CURRENT_UNIT))
            servo.set("moving", int(abs(velocity) > 0.02))


def _stiffen(sim) -> None:
    """A Dynamixel's position loop holds its goal within a tick or two; the sim's position actuators are
    tuned softer (the sim's own servo arm sags and rings a little). Behind the bus each arm actuator is
    SERVO_STIFFNESS times stiffer and critically damped on the joint's inertia at home."""
    import mujoco

    m, d = sim.model, sim.data
    mujoco.mj_forward(m, d)
    inertia = np.zeros((m.nv, m.nv))
    mujoco.mj_fullM(m, d, inertia)
    for act, dof in zip(sim._arm_act, sim._arm_dof):
        kp = SERVO_STIFFNESS * m.actuator_gainprm[act, 0]
        kv = 2.0 * np.sqrt(kp * inertia[dof, dof])
        m.actuator_gainprm[act, 0], m.actuator_biasprm[act, 1], m.actuator_biasprm[act, 2] = kp, -kp, -kv


class PtyBus:
    """The bus on a pseudo-terminal: reads packets from the master side, answers them."""

    def __init__(self, bus: DynamixelBus):
        self.bus = bus
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.path = os.ttyname(slave)
        self._slave = slave  # kept open: the pty lives while the bus does
        self._buffer = bytearray()
        self._running = True

    def serve(self) -> None:
        while self._running:
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if not ready:
                continue
            try:
                self._buffer += os.read(self.master, 4096)
            except OSError:
                continue
            for raw in self._packets():
                for delay, reply in self.bus.handle(raw):
                    if delay:
                        time.sleep(delay)
                    os.write(self.master, reply)

    def _packets(self):
        """Whole packets out of the byte stream; noise before a header is dropped."""
        while True:
            start = self._buffer.find(b"\xff\xff\xfd\x00")
            if start < 0:
                del self._buffer[:-3]
                return
            del self._buffer[:start]
            if len(self._buffer) < 7:
                return
            total = 7 + int.from_bytes(self._buffer[5:7], "little")
            if len(self._buffer) < total:
                return
            raw = bytes(self._buffer[:total])
            del self._buffer[:total]
            yield raw

    def stop(self) -> None:
        self._running = False




def run_commands(bus: DynamixelBus, stream) -> None:
    """Fault injection from a text stream: see FAULT_HELP."""
    actions = {"unplug": lambda i: bus.unplug(i), "plug": lambda i: bus.unplug(i, False),
               "overload": bus.overload, "overheat": bus.overheat}
    for line in stream:
        words = line.split()
        try:
            if words[:1] == ["late"]:
                bus.late(int(words[1]), float(words[2]) / 1000.0)
            elif words and words[0] in actions and len(words) == 2:
                actions[words[0]](int(words[1]))
            elif words:
                raise ValueError(line.strip())
            print(f"fake bus: {line.strip()}", flush=True)
        except (ValueError, IndexError, KeyError):
            print(f"fake bus: not understood: {line.strip()} ({FAULTS})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm fake-robot", description=__doc__, epilog=FAULT_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    servo_arms = sorted(name for name, robot in ROBOTS.items() if robot.servo_bus)
    parser.add_argument("--robot", required=True, choices=servo_arms)
    parser.add_argument("--port", help="also make this path a link to the bus's device (e.g. /tmp/ttyDXL)")
    args = parser.parse_args(argv)
    # The physics and the servo threads share the GIL with the bus; a reply must come within the SDK's wait
    # (34 ms for a ping), so the bus thread gets the interpreter back sooner than Python's default 5 ms.
    sys.setswitchinterval(0.0005)
    link = Path(args.port) if args.port else None
    if link is not None and link.exists() and not link.is_symlink():
        print(f"polyarm fake-robot: {link} is a device or file, not a link a fake made: choose another --port", file=sys.stderr)
        return 2
    bus = DynamixelBus(get_robot(args.robot))
    pty = PtyBus(bus)
    if link is not None:
        try:
            link.unlink(missing_ok=True)
            link.symlink_to(pty.path)
        except OSError as err:
            print(f"polyarm fake-robot: cannot link {link} to the bus: {err.strerror}", file=sys.stderr)
            return 2
    bus.start()
    ids = ", ".join(f"{s.name} {s.id}" for s in bus.servos.values())
    print(f"polyarm fake-robot: Dynamixel bus for the {args.robot} on {link or pty.path} ({ids}); "
          f"faults on stdin: {FAULTS}", flush=True)
    threading.Thread(target=run_commands, args=(bus, sys.stdin), daemon=True).start()
    try:
        pty.serve()
    except KeyboardInterrupt:
        pass
    finally:
        pty.stop()
        bus.close()
        if link is not None:
            link.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
