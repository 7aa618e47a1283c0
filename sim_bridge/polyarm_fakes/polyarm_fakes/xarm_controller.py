"""A simulated xArm controller: UFACTORY's command protocol and report streams, with the project's MuJoCo
xArm 7 moving behind them in real time (`polyarm fake-robot --robot xarm7`). UFACTORY's own example
programs run against it unmodified (tests/test_vendor_examples.py).

xarm-python-sdk, unmodified, connects to it as to an arm. What it speaks (from the SDK's own source,
xarm/core/wrapper/uxbus_cmd_tcp.py and xarm/x3/base.py):
- commands on TCP 502 (and on the Unix socket /tmp/xarmcontroller_uds_502 with `--uds`, which the SDK
  tries first on Linux): request `tid u16 | protocol u16 | length u16 | register u8 | payload`, big-endian
  header, fp32 little-endian values; the reply repeats tid, protocol (2, or 3 once the SDK switches) and
  register, then a status byte (0x40 an error stands, 0x20 a warning, 0x10 not ready to move, 0x08 the
  command is invalid) and data. REGISTERS below are implemented; any other is answered invalid.
- reports, a u32 length then the frame: normal on 30001 and rich on 30002 at 5 Hz (state, mode, cmdnum,
  angles, pose, torques, brake and enable bits, error and warning codes, TCP offset and load, the
  sensitivities and gravity; the rich adds the arm type and the motion limits), real-time on 30003 at
  100 Hz (state, mode, cmdnum, angles, pose, torques).
- the firmware's rules: polyarm_fakes.xarm_firmware.
- the xArm Gripper on the end-effector RS-485 bus (register 124, Modbus RTU to ID 8): enable, mode,
  speed, target and present position in pulses (0 closed .. 850 open), error code.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import struct
import sys
import threading
import time

import numpy as np
from polyarm_core.rotations import rpy_to_matrix
from polyarm_description import RobotProfile, get_robot

from polyarm_fakes.faults import XARM_FAULT_HELP as FAULT_HELP
from polyarm_fakes.faults import XARM_FAULTS as FAULTS
from polyarm_fakes.xarm_firmware import (
    COLLISION,
    EMERGENCY_STOP,
    ERROR,
    INVALID,
    CommandRefused,
    XArmFirmware,
)

REGISTERS = {  # register: the SDK call it answers (the SDK's XCONF.UxbusReg numbering)
    1: "get_version", 2: "get_robot_sn", 11: "motion_enable", 12: "set_state", 13: "get_state",
    14: "get_cmdnum", 15: "get_err_warn_code", 16: "clean_error", 17: "clean_warn", 19: "set_mode",
    21: "set_position (linear move)", 23: "set_servo_angle (joint move)", 25: "move_gohome",
    29: "set_servo_angle_j", 30: "set_servo_cartesian", 31: "set_tcp_jerk", 32: "set_tcp_maxacc",
    33: "set_joint_jerk", 34: "set_joint_maxacc", 35: "set_tcp_offset", 36: "set_tcp_load",
    37: "set_collision_sensitivity", 38: "set_teach_sensitivity", 39: "clean_conf", 40: "save_conf",
    41: "get_position", 42: "get_servo_angle / get_joint_states", 43: "get_inverse_kinematics",
    44: "get_forward_kinematics", 51: "set_gravity_direction", 55: "get_joints_torque", 73: "set_world_offset",
    81: "vc_set_joint_velocity", 82: "vc_set_cartesian_velocity",
    83: "set_position / set_servo_angle (relative=True)",
    124: "gripper: end-effector RS-485 Modbus RTU", 127: "end-effector register write (16 bit)",
    128: "end-effector register read (16 bit)",
}
GRIPPER_ID = 8  # the xArm Gripper on the end-effector bus (the host, 9, is echoed from the request)
GRIPPER_REGISTERS = {"enable": 0x0100, "mode": 0x0101, "reset_error": 0x0109, "speed": 0x0303,
                     "target": 0x0700, "position": 0x0702, "error": 0x000F}
GRIPPER_REGISTER_NAMES = {address: name for name, address in GRIPPER_REGISTERS.items()}
MODBUS_BAUDRATE = 0x0A0B
BAUDRATE_INDEX_2M = 11  # 2 Mbaud, the gripper's default, in the SDK's BAUDRATES
REAL_REPORT_HZ, SLOW_REPORT_HZ = 100.0, 5.0


def floats(payload: bytes, count: int) -> np.ndarray:
    return np.frombuffer(payload[:4 * count], "<f4").astype(float)


class CommandServer:
    """The command protocol on one connected socket: one request in, one reply out."""

    def __init__(self, firmware: XArmFirmware):
        self.fw = firmware
        self.unknown: set[int] = set()
        self.link_up = threading.Event()  # a lost network link: requests go unanswered, as on a pulled cable
        self.link_up.set()
        self._get, self._set = self._getters(), self._setters()

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
                    if not self.link_up.is_set():
                        continue
                    try:
                        conn.sendall(self.reply(request))
                    except OSError:
                        return

    def reply(self, request: bytes) -> bytes:
        tid, protocol, _ = struct.unpack(">HHH", request[:6])
        register, payload = request[6], request[7:]
        with self.fw.lock:
            try:
                data, refused = self.handle(register, payload), 0
            except CommandRefused as refusal:
                data, refused = b"", refusal.status
            except Exception as err:  # noqa: BLE001 - a malformed request: said, and answered invalid
                print(f"fake xArm: register {register}: malformed request {payload.hex()}: {err}", file=sys.stderr)
                data, refused = b"", INVALID
            status = self.fw.status() | refused
        body = bytes([register, status]) + data
        return struct.pack(">HHH", tid, protocol, len(body)) + body

    def handle(self, register: int, payload: bytes) -> bytes:
        """The data of the reply (the status is added after); CommandRefused for a command not carried out."""
        if register not in REGISTERS:
            if register not in self.unknown:  # said once: which SDK call needs a register this fake lacks
                self.unknown.add(register)
                print(f"fake xArm: register {register} is not implemented; answered invalid", file=sys.stderr)
            raise CommandRefused(INVALID)
        if register in self._get:
            return self._get[register](payload)
        self._set[register](payload)
        return b""

    def _getters(self) -> dict:
        fw, kin = self.fw, self.fw.kinematics
        text = lambda value: value.encode().ljust(40, b"\0")  # noqa: E731
        return {
            1: lambda p: text(fw.facts["version"]), 2: lambda p: text(fw.facts["serial_number"]),
            13: lambda p: bytes([fw.state]), 14: lambda p: struct.pack(">H", fw.cmdnum),
            15: lambda p: bytes([fw.error_code, fw.warn_code]),
            41: lambda p: struct.pack("<6f", *fw.tcp_pose()),
            42: lambda p: struct.pack(f"<{7 * self._state_sets(p)}f",
                                      *np.concatenate([fw.q, fw.qd, fw.tau][:self._state_sets(p)])),
            43: lambda p: self._inverse(floats(p, 6)),
            44: lambda p: struct.pack("<6f", *kin.pose(floats(p, 7))),
            55: lambda p: struct.pack("<7f", *fw.tau),
            124: self._gripper_modbus,
            128: lambda p: struct.pack(">i", BAUDRATE_INDEX_2M if struct.unpack(">H", p[1:3])[0] == MODBUS_BAUDRATE else 0),
        }

    @staticmethod
    def _state_sets(payload: bytes) -> int:
        """get_joint_states asks for positions, velocities and torques (3); get_servo_angle for positions (1)."""
        return max(1, min(3, payload[0] & 0x0F)) if payload else 1

    def _inverse(self, pose: np.ndarray) -> bytes:
        q = self.fw.kinematics.inverse(self.fw.target, pose[:3], rpy_to_matrix(pose[3:]))
        if q is None:
            raise CommandRefused(INVALID)
        return struct.pack("<7f", *q)

    def _setters(self) -> dict:
        fw, settings = self.fw, self.fw.settings
        kin = fw.kinematics

        def setting(name, count):
            return lambda p: settings.__setitem__(name, floats(p, count) if count > 1 else float(floats(p, 1)[0]))

        return {
            11: lambda p: fw.motion_enable(bool(p[1])), 12: lambda p: fw.set_state(p[0]),
            16: lambda p: fw.clean_error(), 17: lambda p: setattr(fw, "warn_code", 0), 19: lambda p: fw.set_mode(p[0]),
            21: self._move_line,
            23: lambda p: fw.move_joint(floats(p, 7), *floats(p[28:], 2)),
            25: lambda p: fw.move_home(*floats(p, 2)),
            29: lambda p: fw.servo_j(floats(p, 7)),
            30: lambda p: fw.servo_cartesian(floats(p, 6), tool_frame=bool(floats(p, 9)[8])),
            31: setting("tcp_jerk", 1), 32: setting("tcp_acceleration", 1), 33: setting("joint_jerk", 1),
            34: setting("joint_acceleration", 1), 36: setting("tcp_load", 4), 51: setting("gravity_direction", 3),
            73: setting("world_offset", 6),
            35: lambda p: setattr(kin, "tcp_offset", floats(p, 6)),
            37: lambda p: settings.__setitem__("collision_sensitivity", int(np.clip(p[0], 0, 5))),
            38: lambda p: settings.__setitem__("teach_sensitivity", int(np.clip(p[0], 1, 5))),
            39: lambda p: None, 40: lambda p: None,  # clean_conf, save_conf: the settings live as long as the fake
            81: lambda p: fw.joint_velocity(floats(p, 7), self._duration(p, 29)),
            82: lambda p: fw.cartesian_velocity(floats(p, 6), bool(p[24]), self._duration(p, 25)),
            83: self._move_relative,
            127: lambda p: None,  # an end-effector register write: accepted
        }

    @staticmethod
    def _duration(payload: bytes, at: int) -> float:
        return float(floats(payload[at:], 1)[0]) if len(payload) >= at + 4 else -1.0

    def _move_line(self, payload: bytes) -> None:
        """Register 21, as move_line (9 floats) or move_line_common (10 floats, then coord, axis-angle, check)."""
        common = len(payload) >= 43
        values = floats(payload, 10 if common else 9)
        tool_frame, axis_angle = (bool(payload[40]), bool(payload[41])) if common else (False, False)
        self.fw.move_line(values[:6], values[6], values[7], tool_frame=tool_frame, axis_angle=axis_angle)

    def _move_relative(self, payload: bytes) -> None:
        """Register 83: 7 floats (a pose offset, or joint offsets), speed, acceleration, time, radius; then
        whether the offsets are joints, and whether the orientation is an axis-angle."""
        values, joint_motion, axis_angle = floats(payload, 11), bool(payload[44]), bool(payload[45])
        if joint_motion:
            self.fw.move_joint(values[:7], values[7], values[8], relative=True)
        else:
            self.fw.move_line(values[:6], values[7], values[8], axis_angle=axis_angle, relative=True)

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
    """One report stream: every client connected to it gets a frame at `rate_hz` (none while the link is down)."""

    def __init__(self, firmware: XArmFirmware, kind: str, rate_hz: float, link_up: threading.Event):
        self.fw, self.kind, self.rate_hz, self.link_up = firmware, kind, rate_hz, link_up
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()

    def add(self, conn: socket.socket) -> None:
        with self.lock:
            self.clients.append(conn)

    def run(self, running) -> None:
        period, next_time = 1.0 / self.rate_hz, time.monotonic()
        while running():
            if self.link_up.is_set():
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
        fw, settings = self.fw, self.fw.settings
        body = bytes([fw.state | (fw.mode << 4)]) + struct.pack(">H", fw.cmdnum)
        body += struct.pack("<7f", *fw.q) + struct.pack("<6f", *fw.tcp_pose()) + struct.pack("<7f", *fw.tau)
        if self.kind != "real":
            bits = (1 << 7) - 1 if fw.enabled else 0  # brake released and motor enabled, one bit per joint
            body += bytes([bits, bits, fw.error_code, fw.warn_code])
            body += struct.pack("<6f", *fw.kinematics.tcp_offset) + struct.pack("<4f", *settings["tcp_load"])
            body += bytes([settings["collision_sensitivity"], settings["teach_sensitivity"]])
            body += struct.pack("<3f", *settings["gravity_direction"])
        if self.kind == "rich":
            body += bytes([7, 7, 1, 7, 1, 1]) + b"\0" * 30  # arm type and axes, master and slave ids; version
            facts, joint_speed = fw.facts, float(np.min(fw.limits.velocity))
            body += struct.pack("<5f", settings["tcp_jerk"], 0.0, facts["max_tcp_acceleration"], 0.0, facts["max_tcp_speed"])
            body += struct.pack("<5f", settings["joint_jerk"], 0.0, facts["max_joint_acceleration"], 0.0, joint_speed)
            body += struct.pack("<2f", 0.0, 0.0) + b"\0" * 16  # rotation jerk and acceleration; each servo's codes
            body += bytes(7) + struct.pack("<8f", 0.0, *fw.qd) + struct.pack(">I", 0)  # temperatures, speeds, count
            body += struct.pack("<6f", *settings["world_offset"]) + bytes(2)  # world offset; GPIO reset switches
        return struct.pack(">I", 4 + len(body)) + body


class AddressInUse(OSError):
    """Another process already serves one of the fake's addresses."""


class XArmControllerServer:
    """The firmware with its command socket and report streams, on `host` (and the Unix socket)."""

    def __init__(self, robot: RobotProfile, host: str = "127.0.0.1", port: int = 502, uds: bool = False):
        self.firmware = XArmFirmware(robot)
        self.commands = CommandServer(self.firmware)
        link = self.commands.link_up
        self.reports = {30001: ReportServer(self.firmware, "normal", SLOW_REPORT_HZ, link),
                        30002: ReportServer(self.firmware, "rich", SLOW_REPORT_HZ, link),
                        30003: ReportServer(self.firmware, "real", REAL_REPORT_HZ, link)}
        self.host, self.port, self.uds = host, port, uds
        self._listeners: list[tuple[socket.socket, int]] = []
        self._uds_paths: list[str] = []
        self._connections: list[socket.socket] = []
        self._running = False

    def start(self) -> None:
        """Binds every address first (AddressInUse, PermissionError: nothing started), then runs."""
        try:
            for port in (self.port, *self.reports):
                self._bind_port(port)
        except OSError:
            self._close_sockets()
            raise
        self.firmware.start()
        self._running = True
        for sock, port in self._listeners:
            threading.Thread(target=self._accept, args=(sock, port), daemon=True).start()
        for report in self.reports.values():
            threading.Thread(target=report.run, args=(lambda: self._running,), daemon=True).start()

    def _bind_port(self, port: int) -> None:
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

    def _listen(self, sock: socket.socket, address, port: int) -> None:
        if sock.family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.settimeout(None)  # blocking, whatever socket.setdefaulttimeout says (the SDK sets 1 s in its process)
        try:
            sock.bind(address)
        except OSError as err:
            sock.close()
            if err.errno == errno.EADDRINUSE:
                where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else address
                raise AddressInUse(err.errno, f"{where} is already served (another polyarm fake-robot, or an xArm "
                                              f"controller on this host, holds it: `ss -ltnp 'sport = {port}'` names it)") from None
            raise
        sock.listen(4)
        self._listeners.append((sock, port))

    def _accept(self, sock: socket.socket, port: int) -> None:
        while self._running:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            if not self.commands.link_up.is_set():
                conn.close()  # no link: nothing gets through
                continue
            conn.settimeout(None)
            if conn.family == socket.AF_INET:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._connections.append(conn)
            if port in self.reports:
                self.reports[port].add(conn)
            else:
                threading.Thread(target=self.commands.serve, args=(conn,), daemon=True).start()

    def _close_sockets(self) -> None:
        for sock in [s for s, _ in self._listeners] + self._connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        for path in self._uds_paths:
            if os.path.exists(path):
                os.unlink(path)

    def close(self) -> None:
        self._running = False
        self._close_sockets()
        self.firmware.close()


def run_commands(server: XArmControllerServer, stream) -> None:
    """Fault injection from a text stream: see FAULTS."""
    firmware, link = server.firmware, server.commands.link_up
    for line in stream:
        words = line.split()
        try:
            with firmware.lock:
                if words[:1] == ["error"]:
                    firmware.raise_error(int(words[1]))
                elif words == ["estop"]:
                    firmware.raise_error(EMERGENCY_STOP)
                elif words == ["collision"]:
                    firmware.raise_error(COLLISION)
                elif words == ["link", "down"]:
                    link.clear()
                elif words == ["link", "up"]:
                    link.set()
                elif words:
                    raise ValueError(line.strip())
            print(f"fake xArm: {line.strip()}", flush=True)
        except (ValueError, IndexError):
            print(f"fake xArm: not understood: {line.strip()} ({FAULTS})", flush=True)




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm fake-robot", description=__doc__, epilog=FAULT_HELP,
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
        return 2
    except AddressInUse as err:
        print(f"polyarm fake-robot: {err.strerror}", file=sys.stderr)
        return 2
    where = f"{args.host}:{args.port}" + (" and /tmp/xarmcontroller_uds_502" if args.uds else "")
    print(f"polyarm fake-robot: xArm controller for the {args.robot} on {where}, reports on 30001-30003; "
          f"faults on stdin: {FAULTS}", flush=True)
    threading.Thread(target=run_commands, args=(server, sys.stdin), daemon=True).start()
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
