"""A simulated xArm controller: UFACTORY's command protocol and report streams, with the project's MuJoCo
xArm 7 moving behind them in real time (`polyarm fake-robot --robot xarm7`).

xarm-python-sdk, unmodified, connects to it as to an arm. What it speaks (from the SDK's own source,
xarm/core/wrapper/uxbus_cmd_tcp.py and xarm/x3/base.py):
- commands on TCP 502 (and on the Unix socket /tmp/xarmcontroller_uds_502 with `--uds`, which the SDK
  tries first on Linux): request `tid u16 | protocol u16 | length u16 | register u8 | payload`, big-endian
  header, fp32 little-endian values; the reply repeats tid, protocol (2, or 3 once the SDK switches) and
  register, then a status byte (0x40 an error stands, 0x20 a warning, 0x10 not ready to move) and data.
  The registers implemented are REGISTERS below; any other is answered with the "invalid" bit (0x08).
- reports, a u32 length then the frame: normal on 30001 and rich on 30002 at 5 Hz (state, mode, cmdnum,
  angles, pose, torques, brake and enable bits, error and warning codes; the rich adds the arm type and
  the motion limits), real-time on 30003 at 100 Hz (state, mode, cmdnum, angles, pose, torques).
- the firmware's rules that matter to a driver: motors off and state 4 (stopped) at power-on; nothing
  moves before `motion_enable` and `set_state(0)`; `set_mode` takes effect at the next `set_state(0)`;
  in servo mode (1) each `set_servo_angle_j` target is followed at once, and a target that would need a
  joint faster than twice its speed limit (the MJCF's) over the time since the last target (10-50 ms)
  raises controller error 24 (Speed Exceeds Limit) and stops the arm; an error stands until
  `clean_error`, then `motion_enable` and `set_state(0)` again; in position mode (0) `set_servo_angle`
  runs a trapezoidal joint move at the asked speed and acceleration (state 1 while it runs); when the
  servo stream stops, the arm holds the last target.
- the xArm Gripper on the end-effector RS-485 bus (register 124, Modbus RTU to ID 8): enable, mode,
  speed, target and present position in pulses (0 closed .. 850 open), error code.
Faults a lab sees, on standard input: `error CODE` (raise a controller error), `estop` (the emergency
stop: motors off, state 4).
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import sys
import threading
import time

import mujoco
import numpy as np
from polyarm_core.rotations import matrix_to_rpy
from polyarm_description import RobotProfile, get_robot, home_joints, joint_limits, load_model

REGISTERS = {  # register: what it does (the SDK's XCONF.UxbusReg numbering)
    1: "get version", 2: "get robot SN", 11: "motion enable", 12: "set state", 13: "get state",
    14: "get cmdnum", 15: "get error and warning codes", 16: "clean error", 17: "clean warning",
    19: "set mode", 23: "move joint (set_servo_angle)", 29: "servo joint (set_servo_angle_j)",
    41: "get TCP pose", 42: "get joint positions", 124: "end-effector RS-485 Modbus RTU (the gripper)",
    127: "end-effector register write (16 bit)", 128: "end-effector register read (16 bit)",
}
NOT_READY, WARNING, ERROR, INVALID = 0x10, 0x20, 0x40, 0x08
MOVING, SLEEPING, PAUSED, STOPPED = 1, 2, 3, 4
SPEED_EXCEEDS_LIMIT = 24  # the controller error a servo target too far away raises
EMERGENCY_STOP = 1
GRIPPER_ID = 8  # the xArm Gripper on the end-effector bus (the host, 9, is echoed from the request)
GRIPPER_REGISTERS = {"enable": 0x0100, "mode": 0x0101, "reset_error": 0x0109, "speed": 0x0303,
                     "target": 0x0700, "position": 0x0702, "error": 0x000F}
GRIPPER_REGISTER_NAMES = {address: name for name, address in GRIPPER_REGISTERS.items()}
MODBUS_BAUDRATE = 0x0A0B
BAUDRATE_INDEX_2M = 11  # 2 Mbaud, the gripper's default, in the SDK's BAUDRATES
SYNC_HZ = 250.0
REAL_REPORT_HZ, SLOW_REPORT_HZ = 100.0, 5.0
SERVO_PERIOD_S = (0.01, 0.05)  # the time a servo target is judged over: the gap since the last, within these
SERVO_JITTER_ALLOWANCE = 2.0  # a target may ask twice the joint speed limit over that time (stream jitter)


class XArmFirmware:
    """The controller's state machine over the MuJoCo arm. Its methods do not lock: the command server, the
    report streams and the sync thread each hold `lock` around what they call."""

    def __init__(self, robot: RobotProfile, realtime: bool = True):
        from sim_bridge.devices import StandaloneMujocoDriver

        self.robot = robot
        self.facts = self.robot.xarm_controller
        self.arm = StandaloneMujocoDriver.create(self.robot, realtime=realtime)
        model = load_model(self.robot)
        self._fk_model, self._fk_data = model, mujoco.MjData(model)
        self._tcp = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, self.robot.tcp_site)
        self._qadr = [model.jnt_qposadr[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j)]
                      for j in self.robot.arm_joints]
        self.limits = joint_limits(model, self.robot)
        self.lock = threading.Lock()
        self.enabled, self.state, self.mode, self.pending_mode = False, STOPPED, 0, 0
        self.error_code = self.warn_code = 0
        self.cmdnum = 0
        self.target = home_joints(model, self.robot)[:self.robot.dof].copy()
        self._last_servo = 0.0
        self._move = None  # position mode: (start, goal, speed, acceleration, t0)
        self.gripper = {"enable": 0, "mode": 0, "speed": 0, "target": self.facts["gripper_pulses"], "error": 0}
        self.q = self.target.copy()
        self.qd = np.zeros(self.robot.dof)
        self.tau = np.zeros(self.robot.dof)
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
        self._thread.join(timeout=2.0)
        self.arm.close()

    @property
    def ready(self) -> bool:
        return self.enabled and self.error_code == 0 and self.state in (MOVING, SLEEPING)

    def status(self) -> int:
        return (ERROR if self.error_code else 0) | (WARNING if self.warn_code else 0) | (0 if self.ready else NOT_READY)

    # ------------------------------------------------------------ commands
    def motion_enable(self, enable: bool) -> None:
        self.enabled = enable
        if not enable:
            self._stop()

    def set_state(self, state: int) -> None:
        if state == 0:
            if self.enabled and self.error_code == 0:
                self.mode = self.pending_mode
                self.state = SLEEPING
                self.target = self.q.copy()  # start from where the arm stands
                self._last_servo = 0.0
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
        self.state, self._move, self.cmdnum = state, None, 0
        self.target = self.q.copy()

    def servo_j(self, angles: np.ndarray) -> None:
        """Mode 1: follow the target at once, unless reaching it would exceed the joint speed limit."""
        if not self.ready or self.mode != 1:
            return
        now = time.monotonic()
        dt = float(np.clip(now - self._last_servo, *SERVO_PERIOD_S))  # a resumed stream must resume nearby
        angles = np.clip(angles, self.limits.lower, self.limits.upper)
        if np.any(np.abs(angles - self.target) > SERVO_JITTER_ALLOWANCE * self.limits.velocity * dt):
            self.raise_error(SPEED_EXCEEDS_LIMIT)
            return
        self.target, self._last_servo, self.state = angles, now, MOVING

    def move_joint(self, angles: np.ndarray, speed: float, acceleration: float) -> None:
        """Mode 0: a trapezoidal joint move, every joint arriving together."""
        if not self.ready or self.mode != 0:
            return
        speed = float(np.clip(speed, 1e-3, np.min(self.limits.velocity)))
        acceleration = float(np.clip(acceleration, 1e-2, self.facts["max_joint_acceleration"]))
        goal = np.clip(angles, self.limits.lower, self.limits.upper)
        self._move = (self.target.copy(), goal, speed, acceleration, time.monotonic())
        self.state, self.cmdnum = MOVING, 1

    # ------------------------------------------------------------ the arm behind it
    def _sync(self) -> None:
        period, next_time = 1.0 / SYNC_HZ, time.monotonic()
        while self._running:
            with self.lock:
                self._advance()
                target = self.target.copy()
                opening = self.gripper["target"] / self.facts["gripper_pulses"] if self.gripper["enable"] else None
            self.arm.write(self.robot.arm_joints, target)
            if opening is not None:
                self.arm.command_gripper(float(np.clip(opening, 0.0, 1.0)))
            with self.lock:
                self._measure()
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))

    def _advance(self) -> None:
        if self._move is not None:
            start, goal, v, a, t0 = self._move
            s, done = _trapezoid(np.max(np.abs(goal - start)), v, a, time.monotonic() - t0)
            self.target = start + s * (goal - start)
            if done:
                self._move, self.state, self.cmdnum = None, SLEEPING, 0
        elif self.state == MOVING and self.mode == 1 and time.monotonic() - self._last_servo > 0.1:
            self.state = SLEEPING  # the servo stream stopped: the arm holds the last target

    def _measure(self) -> None:
        reading = self.arm.read()
        n = self.robot.dof
        self.q, self.qd, self.tau = reading.position[:n].copy(), reading.velocity[:n].copy(), reading.effort[:n].copy()
        self.gripper_pulses = reading.gripper_opening * self.facts["gripper_pulses"]

    def tcp_pose(self) -> list[float]:
        """x, y, z (mm), roll, pitch, yaw (rad) of the TCP in the base frame, as the controller reports it."""
        self._fk_data.qpos[self._qadr] = self.q
        mujoco.mj_kinematics(self._fk_model, self._fk_data)
        position = 1000.0 * self._fk_data.site_xpos[self._tcp]
        return [*position, *matrix_to_rpy(self._fk_data.site_xmat[self._tcp].reshape(3, 3))]


def _trapezoid(distance: float, v: float, a: float, t: float) -> tuple[float, bool]:
    """The fraction of a move of `distance` done at time t, at speed v and acceleration a; and whether done."""
    if distance < 1e-9:
        return 1.0, True
    t_acc = min(v / a, np.sqrt(distance / a))
    v_peak = a * t_acc
    t_cruise = max(0.0, (distance - a * t_acc ** 2) / v_peak)
    total = 2 * t_acc + t_cruise
    if t >= total:
        return 1.0, True
    if t < t_acc:
        s = 0.5 * a * t ** 2
    elif t < t_acc + t_cruise:
        s = 0.5 * a * t_acc ** 2 + v_peak * (t - t_acc)
    else:
        r = total - t
        s = distance - 0.5 * a * r ** 2
    return s / distance, False


class CommandServer:
    """The command protocol on one connected socket: one request in, one reply out."""

    def __init__(self, firmware: XArmFirmware):
        self.fw = firmware
        self.unknown: set[int] = set()

    def serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                try:
                    chunk = conn.recv(4096)
                except OSError:
                    return
                if not chunk:
                    return
                buffer += chunk
                while len(buffer) >= 7:
                    length = struct.unpack(">H", buffer[4:6])[0]
                    if len(buffer) < 6 + length:
                        break
                    request, buffer = buffer[:6 + length], buffer[6 + length:]
                    try:
                        conn.sendall(self.reply(request))
                    except OSError:
                        return

    def reply(self, request: bytes) -> bytes:
        tid, protocol, _ = struct.unpack(">HHH", request[:6])
        register, payload = request[6], request[7:]
        with self.fw.lock:
            try:
                data, status = self.handle(register, payload)
            except Exception as err:  # noqa: BLE001 - a malformed request: said, and answered invalid
                print(f"fake xArm: register {register}: malformed request {payload.hex()}: {err}", file=sys.stderr)
                data, status = b"", self.fw.status() | INVALID
        body = bytes([register, status]) + data
        return struct.pack(">HHH", tid, protocol, len(body)) + body

    def handle(self, register: int, payload: bytes) -> tuple[bytes, int]:
        fw = self.fw
        if register not in REGISTERS:
            if register not in self.unknown:  # said once: which SDK call needs a register this fake lacks
                self.unknown.add(register)
                print(f"fake xArm: register {register} is not implemented; answered invalid", file=sys.stderr)
            return b"", fw.status() | INVALID
        if register == 1:
            return fw.facts["version"].encode().ljust(40, b"\0"), fw.status()
        if register == 2:
            return fw.facts["serial_number"].encode().ljust(40, b"\0"), fw.status()
        if register == 11:
            fw.motion_enable(bool(payload[1]))
        elif register == 12:
            fw.set_state(payload[0])
        elif register == 13:
            return bytes([fw.state]), fw.status()
        elif register == 14:
            return struct.pack(">H", fw.cmdnum), fw.status()
        elif register == 15:
            return bytes([fw.error_code, fw.warn_code]), fw.status()
        elif register == 16:
            fw.clean_error()
        elif register == 17:
            fw.warn_code = 0
        elif register == 19:
            fw.set_mode(payload[0])
        elif register in (23, 29):
            values = np.frombuffer(payload[:40], "<f4").astype(float)
            if register == 29:
                fw.servo_j(values[:7])
            else:
                fw.move_joint(values[:7], values[7], values[8])
        elif register == 41:
            return struct.pack("<6f", *fw.tcp_pose()), fw.status()
        elif register == 42:
            return struct.pack("<7f", *fw.q), fw.status()
        elif register == 124:
            return self._gripper_modbus(payload), fw.status()
        elif register == 128:
            value = BAUDRATE_INDEX_2M if struct.unpack(">H", payload[1:3])[0] == MODBUS_BAUDRATE else 0
            return struct.pack(">i", value), fw.status()
        return b"", fw.status()  # a write whose reply carries no data (127: a register write, accepted)

    def _gripper_modbus(self, payload: bytes) -> bytes:
        """Modbus RTU to the gripper: read holding registers (0x03) and write multiple (0x10)."""
        host, slave, function = payload[0], payload[1], payload[2]
        address, count = struct.unpack(">HH", payload[3:7])
        gripper, registers = self.fw.gripper, GRIPPER_REGISTER_NAMES
        if slave != GRIPPER_ID:
            return bytes([host, slave, function | 0x80, 0x0B])  # gateway target failed to respond
        if function == 0x03:
            if registers.get(address) == "position":
                value = struct.pack(">i", int(round(self.fw.gripper_pulses)))
            elif registers.get(address) == "error":
                value = struct.pack(">H", gripper["error"])
            else:
                value = b"\0" * (2 * count)
            return bytes([host, slave, function, len(value)]) + value
        if function == 0x10:
            values = payload[8:8 + 2 * count]
            name = registers.get(address)
            if name == "target":
                gripper["target"] = int(np.clip(struct.unpack(">i", values)[0], 0, self.fw.facts["gripper_pulses"]))
            elif name == "reset_error":
                gripper["error"] = 0
            elif name in gripper:
                gripper[name] = struct.unpack(">H", values[:2])[0]
            return bytes([host, slave, function]) + payload[3:7]
        return bytes([host, slave, function | 0x80, 0x01])  # illegal function


class ReportServer:
    """One report stream: every client connected to it gets a frame at `rate_hz`."""

    def __init__(self, firmware: XArmFirmware, kind: str, rate_hz: float):
        self.fw, self.kind, self.rate_hz = firmware, kind, rate_hz
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()

    def add(self, conn: socket.socket) -> None:
        with self.lock:
            self.clients.append(conn)

    def run(self, running) -> None:
        period, next_time = 1.0 / self.rate_hz, time.monotonic()
        while running():
            with self.fw.lock:
                frame = self.frame()
            with self.lock:
                for conn in list(self.clients):
                    try:
                        conn.sendall(frame)
                    except OSError:
                        self.clients.remove(conn)
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))

    def frame(self) -> bytes:
        fw = self.fw
        body = bytes([fw.state | (fw.mode << 4)]) + struct.pack(">H", fw.cmdnum)
        body += struct.pack("<7f", *fw.q) + struct.pack("<6f", *fw.tcp_pose()) + struct.pack("<7f", *fw.tau)
        if self.kind != "real":
            bits = (1 << 7) - 1 if fw.enabled else 0  # brake released and motor enabled, one bit per joint
            body += bytes([bits, bits, fw.error_code, fw.warn_code])
            body += struct.pack("<6f", *[0.0] * 6) + struct.pack("<4f", *[0.0] * 4)  # TCP offset, TCP load
            body += bytes([3, 3]) + struct.pack("<3f", 0.0, 0.0, -1.0)  # collision and teach sensitivity, gravity
        if self.kind == "rich":
            body += bytes([7, 7, 1, 7, 1, 1]) + b"\0" * 30  # arm type and axes, master and slave ids; version
            limits = fw.facts
            body += struct.pack("<5f", 0.0, 0.0, 50000.0, 0.0, 1000.0)  # TCP jerk, accelerations (mm/s^2), speeds
            joint_speed = float(np.min(fw.limits.velocity))
            body += struct.pack("<5f", 0.0, 0.0, limits["max_joint_acceleration"], 0.0, joint_speed)
            body += struct.pack("<2f", 0.0, 0.0) + b"\0" * 16  # rotation limits; each servo's status and code
            body += bytes(7) + struct.pack("<8f", 0.0, *fw.qd) + struct.pack(">I", 0)  # temperatures, speeds, count
        return struct.pack(">I", 4 + len(body)) + body


class XArmControllerServer:
    """The firmware with its command socket and report streams, on `host` (and the Unix socket)."""

    def __init__(self, robot: RobotProfile, host: str = "127.0.0.1", port: int = 502, uds: bool = False):
        self.firmware = XArmFirmware(robot)
        self.commands = CommandServer(self.firmware)
        self.reports = {30001: ReportServer(self.firmware, "normal", SLOW_REPORT_HZ),
                        30002: ReportServer(self.firmware, "rich", SLOW_REPORT_HZ),
                        30003: ReportServer(self.firmware, "real", REAL_REPORT_HZ)}
        self.host, self.port, self.uds = host, port, uds
        self._listeners: list[socket.socket] = []
        self._uds_paths: list[str] = []
        self._connections: list[socket.socket] = []
        self._running = False

    def start(self) -> None:
        self.firmware.start()
        self._running = True
        for port in (self.port, *self.reports):
            try:
                self._listen(socket.socket(socket.AF_INET, socket.SOCK_STREAM), (self.host, port), port)
            except PermissionError:
                if not self.uds:
                    raise
                print(f"fake xArm: TCP {port} needs root: the Unix socket only", file=sys.stderr)
            if self.uds:
                path = f"/tmp/xarmcontroller_uds_{502 if port == self.port else port}"
                if os.path.exists(path):
                    os.unlink(path)
                self._uds_paths.append(path)
                self._listen(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), path, port)
        for report in self.reports.values():
            threading.Thread(target=report.run, args=(lambda: self._running,), daemon=True).start()

    def _listen(self, sock: socket.socket, address, port: int) -> None:
        if sock.family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(None)  # blocking, whatever socket.setdefaulttimeout says (the SDK sets 1 s in its process)
        sock.bind(address)
        sock.listen(4)
        self._listeners.append(sock)
        threading.Thread(target=self._accept, args=(sock, port), daemon=True).start()

    def _accept(self, sock: socket.socket, port: int) -> None:
        while self._running:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.settimeout(None)
            if conn.family == socket.AF_INET:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connections.append(conn)
            if port in self.reports:
                self.reports[port].add(conn)
            else:
                threading.Thread(target=self.commands.serve, args=(conn,), daemon=True).start()

    def close(self) -> None:
        self._running = False
        for sock in self._listeners + self._connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for path in self._uds_paths:
            if os.path.exists(path):
                os.unlink(path)
        self.firmware.close()


def run_commands(firmware: XArmFirmware, stream) -> None:
    """Fault injection from a text stream: `error CODE`, `estop`."""
    for line in stream:
        words = line.split()
        try:
            with firmware.lock:
                if words[:1] == ["error"]:
                    firmware.raise_error(int(words[1]))
                elif words == ["estop"]:
                    firmware.raise_error(EMERGENCY_STOP)
                elif words:
                    raise ValueError(line.strip())
            print(f"fake xArm: {line.strip()}", flush=True)
        except (ValueError, IndexError):
            print(f"fake xArm: not understood: {line.strip()} (error CODE | estop)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm fake-robot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--robot", default="xarm7", choices=["xarm7"])
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on (any 127.x.y.z)")
    parser.add_argument("--port", type=int, default=502,
                        help="the command port (the SDK dials 502; binding it needs root)")
    parser.add_argument("--uds", action="store_true", help="also serve /tmp/xarmcontroller_uds_502 (no root needed)")
    args = parser.parse_args(argv)
    sys.setswitchinterval(0.0005)  # the sockets answer beside the physics thread (as the Dynamixel bus does)
    server = XArmControllerServer(get_robot(args.robot), args.host, args.port, args.uds)
    try:
        server.start()
    except PermissionError:
        print(f"polyarm fake-robot: binding port {args.port} needs root; run with --uds (or as root)", file=sys.stderr)
        server.firmware.close()
        return 2
    where = f"{args.host}:{args.port}" + (" and /tmp/xarmcontroller_uds_502" if args.uds else "")
    print(f"polyarm fake-robot: xArm controller for the {args.robot} on {where}, reports on 30001-30003; "
          "faults on stdin: error CODE | estop", flush=True)
    threading.Thread(target=run_commands, args=(server.firmware, sys.stdin), daemon=True).start()
    try:
        while True:
            time.sleep(1.0)
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
