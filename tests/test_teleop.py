"""The teleop devices, each decoding its own raw input as the hardware sends it: keystrokes typed into a
real pseudo-terminal, `struct input_event` bytes for the gamepad, HID reports for the SpaceMouse (through
pyspacemouse's own decoder). This machine has no /dev/input, /dev/uinput or /dev/hidraw, so opening a
real device is not exercised here; its error messages are. Then TargetIntegrator, which turns their
commands into TCP targets."""

from __future__ import annotations

import os
import struct
import termios
from pathlib import Path

import numpy as np
import pytest
from evdev import ecodes as e
from polyarm_core.registry import factory
from polyarm_core.rotations import angle_between, from_rotation_vector
from polyarm_core.teleop import TeleopCommand
from polyarm_teleop.gamepad import INPUT_EVENT, GamepadDevice
from polyarm_teleop.keyboard import KeyboardDevice
from polyarm_teleop.mapping import TargetIntegrator, TeleopConfig, apply_deadband
from polyarm_teleop.spacemouse import SpaceMouseDevice


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


# ---------------------------------------------------------------------------------------------- keyboard
@pytest.fixture
def terminal():
    """A pseudo-terminal: the device reads its terminal end, the test types into the other."""
    typing, terminal_end = os.openpty()
    clock = Clock()
    device = KeyboardDevice(os.ttyname(terminal_end), hold_s=0.12, clock=clock)
    device.connect()
    yield device, typing, clock, terminal_end
    device.close()
    os.close(typing)
    os.close(terminal_end)


def test_the_keyboard_moves_an_axis_while_its_key_repeats_and_stops_after(terminal):
    device, typing, clock, _ = terminal
    os.write(typing, b"w")
    command = device.read()
    np.testing.assert_array_equal(command.translation, [1, 0, 0])
    clock.now += 0.1
    os.write(typing, b"w")  # the terminal's auto-repeat
    clock.now += 0.1
    np.testing.assert_array_equal(device.read().translation, [1, 0, 0])
    clock.now += 0.2  # no repeat: the key was released
    np.testing.assert_array_equal(device.read().translation, [0, 0, 0])


def test_the_keyboard_decodes_arrows_even_split_across_reads_and_rotation_keys(terminal):
    device, typing, clock, _ = terminal
    os.write(typing, b"\x1b[")  # half an arrow key
    assert not device.read().translation.any()
    os.write(typing, b"Dj")  # ... its end (left: +y), and yaw +
    command = device.read()
    np.testing.assert_array_equal(command.translation, [0, 1, 0])
    np.testing.assert_array_equal(command.rotation, [0, 0, 1])
    os.write(typing, b"\x1b[6~")  # page down: -z
    clock.now += 0.2
    np.testing.assert_array_equal(device.read().translation, [0, 0, -1])


def test_the_keyboard_toggles_the_gripper_and_sends_the_episode_keys_in_order(terminal):
    device, typing, _, _ = terminal
    os.write(typing, b" by+-xhq")
    command = device.read()
    assert command.gripper == 0.0
    assert command.events == ("start", "success", "faster", "slower", "discard", "reset", "quit")
    os.write(typing, b" ")
    assert device.read().gripper == 1.0
    assert device.read().gripper is None  # unchanged


def test_the_keyboard_puts_the_terminal_back_as_it_was(tmp_path):
    typing, terminal_end = os.openpty()
    before = termios.tcgetattr(terminal_end)
    device = KeyboardDevice(os.ttyname(terminal_end))
    device.connect()
    assert not termios.tcgetattr(terminal_end)[3] & termios.ECHO, "keys are not echoed while it runs"
    device.close()
    assert termios.tcgetattr(terminal_end) == before
    os.close(typing)
    os.close(terminal_end)
    with pytest.raises(RuntimeError, match="cannot open the terminal"):
        KeyboardDevice(str(tmp_path / "no-tty")).connect()
    (tmp_path / "file").write_text("")
    with pytest.raises(RuntimeError, match="not a terminal"):
        KeyboardDevice(str(tmp_path / "file")).connect()


# ----------------------------------------------------------------------------------------------- gamepad
def events(*triples) -> bytes:
    """struct input_event bytes, each followed by the SYN_REPORT the kernel sends after a change."""
    out = b""
    for kind, code, value in triples:
        out += INPUT_EVENT.pack(1700000000, 0, kind, code, value) + INPUT_EVENT.pack(1700000000, 0, e.EV_SYN, e.SYN_REPORT, 0)
    return out


@pytest.fixture
def pad():
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)
    device = GamepadDevice(fd=read_end)
    device.connect()
    yield device, write_end
    os.close(read_end)
    os.close(write_end)


def test_the_gamepad_moves_nothing_until_the_deadman_is_held(pad):
    device, feed = pad
    os.write(feed, events((e.EV_ABS, e.ABS_Y, -32768)))  # left stick pushed away
    command = device.read()
    assert not command.enabled
    os.write(feed, events((e.EV_KEY, e.BTN_TL, 1)))
    command = device.read()
    assert command.enabled
    np.testing.assert_allclose(command.translation, [1, 0, 0])
    os.write(feed, events((e.EV_KEY, e.BTN_TL, 0)))
    assert not device.read().enabled


def test_the_gamepad_maps_sticks_triggers_and_dpad_and_survives_a_split_event(pad):
    device, feed = pad
    data = events((e.EV_KEY, e.BTN_TL, 1), (e.EV_ABS, e.ABS_X, 32767), (e.EV_ABS, e.ABS_RZ, 1023),
                  (e.EV_ABS, e.ABS_Z, 0), (e.EV_ABS, e.ABS_RX, -32768), (e.EV_ABS, e.ABS_HAT0X, 1))
    os.write(feed, data[:37])  # an event cut in two
    device.read()
    os.write(feed, data[37:])
    command = device.read()
    np.testing.assert_allclose(command.translation, [0, -1, 1], atol=1e-4)  # right: -y; RT: up
    np.testing.assert_allclose(command.rotation, [1, 0, -1], atol=1e-4)
    os.write(feed, events((e.EV_ABS, e.ABS_X, 0)))  # centred (the xpad range is asymmetric by one)
    assert abs(device.read().translation[1]) < 1e-4


def test_the_gamepad_buttons_toggle_the_gripper_and_send_episode_and_speed_events(pad):
    device, feed = pad
    os.write(feed, events((e.EV_KEY, e.BTN_SOUTH, 1), (e.EV_KEY, e.BTN_SOUTH, 0), (e.EV_KEY, e.BTN_START, 1),
                          (e.EV_KEY, e.BTN_START, 2), (e.EV_KEY, e.BTN_NORTH, 1), (e.EV_ABS, e.ABS_HAT0Y, -1),
                          (e.EV_ABS, e.ABS_HAT0Y, 0), (e.EV_ABS, e.ABS_HAT0Y, 1), (e.EV_KEY, e.BTN_MODE, 1)))
    command = device.read()
    assert command.gripper == 0.0
    assert command.events == ("start", "success", "faster", "slower", "quit")  # a held START repeats (2): once


def test_a_gamepad_that_cannot_be_opened_is_named(tmp_path):
    with pytest.raises(RuntimeError, match=r"gamepad: .*(does not exist|permission denied|no gamepad)"):
        GamepadDevice(str(tmp_path / "event7")).connect()


# -------------------------------------------------------------------------------------------- spacemouse
class HidReports:
    """The HID transport, fed with the reports a SpaceMouse Compact sends (pyspacemouse reads one per read)."""

    def __init__(self):
        self.queue: list[bytes] = []

    def send(self, report: bytes) -> None:
        self.queue.append(report)

    def read(self, size: int) -> bytes:
        return self.queue.pop(0) if self.queue else b""

    def set_nonblocking(self, flag) -> None:
        pass


def axes_report(channel: int, a: int, b: int, c: int) -> bytes:
    return bytes([channel]) + struct.pack("<hhh", a, b, c)


def test_the_spacemouse_maps_its_hid_reports_into_the_base_frame():
    hid = HidReports()
    mouse = SpaceMouseDevice("SpaceMouseCompact", hid=hid)
    mouse.connect()
    hid.send(axes_report(1, 0, -350, 0))  # HID: y toward the operator, so the cap pushed away
    hid.send(axes_report(2, 0, 0, 0))
    command = mouse.read()
    np.testing.assert_allclose(command.translation, [1, 0, 0])
    hid.send(axes_report(1, 175, 0, -350))  # half right, full up (HID z is down)
    hid.send(axes_report(2, 0, 0, -350))  # twisted counter-clockwise seen from above (HID rz is clockwise)
    command = mouse.read()
    np.testing.assert_allclose(command.translation, [0, -0.5, 1])
    np.testing.assert_allclose(command.rotation, [0, 0, 1])
    turned = SpaceMouseDevice("SpaceMouseCompact", operator_yaw=np.pi / 2, hid=hid)  # the operator faces +y
    turned.connect()
    hid.send(axes_report(1, 0, -350, 0))
    np.testing.assert_allclose(turned.read().translation, [0, 1, 0], atol=1e-12)


def test_the_spacemouse_buttons_toggle_the_gripper_and_start_an_episode():
    hid = HidReports()
    mouse = SpaceMouseDevice("SpaceMouseCompact", hid=hid)
    mouse.connect()
    hid.send(bytes([3, 0b01]))
    assert mouse.read().gripper == 0.0
    hid.send(bytes([3, 0b00]))
    hid.send(bytes([3, 0b10]))
    command = mouse.read()
    assert command.events == ("start",) and command.gripper is None
    with pytest.raises(ValueError, match="unknown SpaceMouse model 'SpaceBall'"):
        SpaceMouseDevice("SpaceBall", hid=hid).connect()


def test_a_spacemouse_that_cannot_be_opened_is_named():
    with pytest.raises(RuntimeError, match=r"spacemouse: (the system's hidapi library is missing|.*is it plugged in)"):
        SpaceMouseDevice().connect()


def test_every_device_is_found_by_name_in_the_registry():
    for name, kind in (("keyboard", KeyboardDevice), ("gamepad", GamepadDevice), ("spacemouse", SpaceMouseDevice)):
        assert isinstance(factory("teleop device", name)(), kind)


# --------------------------------------------------------------------------------------------- mapping
def integrator(**config) -> TargetIntegrator:
    target = TargetIntegrator((0.2, -0.45, 0.02), (0.8, 0.45, 0.75), TeleopConfig(**config))
    target.reset([0.5, 0.0, 0.4], np.eye(3))
    return target


def test_the_deadband_zeroes_small_inputs_and_keeps_the_output_continuous():
    np.testing.assert_allclose(apply_deadband([0.05, -0.1, 0.55, -1.0, 2.0], 0.1), [0, 0, 0.5, -1, 1])


def test_the_target_moves_at_the_scaled_speed_and_stays_in_the_workspace():
    target = integrator(linear_speed=0.1)
    p, _ = target.step(TeleopCommand(translation=np.array([1.0, 0, 0])), 0.5)
    np.testing.assert_allclose(p, [0.55, 0, 0.4])
    p, _ = target.step(TeleopCommand(translation=np.array([1.0, 0, 0]), events=("faster",)), 0.5)
    np.testing.assert_allclose(p, [0.55 + 0.075, 0, 0.4])  # 1.5x
    for _ in range(100):
        p, _ = target.step(TeleopCommand(translation=np.array([1.0, 0, -1.0])), 0.5)
    np.testing.assert_allclose(p, [0.8, 0, 0.02])  # the box's corner
    p, _ = target.step(TeleopCommand(translation=np.array([-1.0, 0, 0]), enabled=False), 0.5)
    np.testing.assert_allclose(p, [0.8, 0, 0.02])  # deadman released: it stays


def test_the_target_never_leads_the_measured_arm_by_more_than_max_lead():
    target = integrator(linear_speed=0.1, max_lead=0.05)
    for _ in range(10):  # the arm stuck at the start, e.g. against an obstacle
        p, _ = target.step(TeleopCommand(translation=np.array([0, 1.0, 0])), 0.5, measured_position=[0.5, 0.0, 0.4])
    np.testing.assert_allclose(p, [0.5, 0.05, 0.4])


def test_rotations_turn_about_the_base_or_the_tool_axes():
    tilted = from_rotation_vector([np.pi / 2, 0, 0])
    yaw = TeleopCommand(rotation=np.array([0, 0, 1.0]))
    for frame, expected in (("base", from_rotation_vector([0, 0, 0.3]) @ tilted),
                            ("tool", tilted @ from_rotation_vector([0, 0, 0.3]))):
        target = integrator(angular_speed=0.6, frame=frame)
        target.reset([0.5, 0, 0.4], tilted)
        _, R = target.step(yaw, 0.5)
        assert angle_between(R, expected) < 1e-9, frame
    with pytest.raises(ValueError, match="frame must be one of"):
        TeleopConfig(frame="world")


# ------------------------------------------------------------------------------------ recording session
@pytest.fixture
def cdr():
    """Serialize ROS 2 messages as a publisher would (rosbags' Jazzy typestore)."""
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_JAZZY)
    T = store.types

    def header(ns):
        return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                        frame_id="base_link")

    def image(ns):
        msg = T["sensor_msgs/msg/Image"](header=header(ns), height=2, width=2, encoding="rgb8", is_bigendian=0, step=6,
                                         data=np.arange(12, dtype=np.uint8))
        return bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image"))

    def joints(ns, q):
        msg = T["sensor_msgs/msg/JointState"](header=header(ns), name=["a", "b"], position=np.array(q, dtype=float),
                                              velocity=np.zeros(2), effort=np.zeros(2))
        return bytes(store.serialize_cdr(msg, "sensor_msgs/msg/JointState"))

    return image, joints


TOPICS = {"camera/color/image_raw": "sensor_msgs/msg/Image", "joint_states": "sensor_msgs/msg/JointState"}


def play(session, image, joints, t0_ns: int, frames: int, skip=()):
    """`frames` camera frames at 15 Hz with joint_states at 100 Hz between them (frames in `skip` never arrive)."""
    for k in range(frames):
        ns = t0_ns + int(k * 1e9 / 15)
        if k not in skip:
            session.write("camera/color/image_raw", ns, image(ns))
        for j in range(6):
            session.write("joint_states", ns + j * 10**7, joints(ns + j * 10**7, [0.01 * k, j]))


def test_each_episode_is_its_own_readable_bag_with_its_label_and_dropped_frames(tmp_path, cdr):
    from polyarm_data.recording import read_messages
    from polyarm_teleop.session import RecordingSession, read_episode

    image, joints = cdr
    clock = [0]
    session = RecordingSession(tmp_path / "demos", "panda", "reach", TOPICS, camera_rate_hz=15.0, clock_ns=lambda: clock[0])
    play(session, image, joints, 0, 5)  # before any episode: not recorded
    assert session.handle("start", seed=3) == "episode 0: recording"
    play(session, image, joints, 10**9, 30, skip={10, 11, 20})
    clock[0] = 2 * 10**9
    assert "episode 0: success" in session.handle("success")
    assert (tmp_path / "demos" / "episode_0000" / "metadata.yaml").exists(), "closed the moment it ended"
    session.handle("start", seed=4)
    play(session, image, joints, 5 * 10**9, 10)
    session.handle("discard")  # re-record: the number is reused
    session.handle("start", seed=4)
    play(session, image, joints, 9 * 10**9, 12)
    session.handle("failure")
    session.handle("start", seed=5)
    play(session, image, joints, 12 * 10**9, 3)
    session.close()  # quit mid-episode: it has no label, it is dropped
    assert sorted(p.name for p in (tmp_path / "demos").iterdir()) == ["episode_0000", "episode_0001"]

    first = read_episode(tmp_path / "demos" / "episode_0000")
    assert (first.label, first.seed, first.dropped_frames) == ("success", 3, 3)
    assert first.counts == {"camera/color/image_raw": 27, "joint_states": 180}
    messages = list(read_messages(tmp_path / "demos" / "episode_0000"))
    assert len(messages) == 207
    positions = [m.position[0] for topic, _, m in messages if topic == "joint_states"]
    assert positions[0] == 0.0 and positions[-1] == pytest.approx(0.29)
    second = read_episode(tmp_path / "demos" / "episode_0001")
    assert (second.label, second.seed, second.dropped_frames) == ("failure", 4, 0)
    resumed = RecordingSession(tmp_path / "demos", "panda", "reach", TOPICS)
    assert resumed.next_index == 2, "a new session numbers on from the episodes on disk"


def test_a_session_killed_mid_episode_leaves_the_finished_ones_readable(tmp_path, cdr):
    import subprocess
    import sys

    from polyarm_data.recording import read_messages
    from polyarm_teleop.session import read_episode

    script = f"""
import os, signal, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import numpy as np
from test_teleop import TOPICS, play, cdr
from polyarm_teleop.session import RecordingSession
image, joints = cdr.__wrapped__()
session = RecordingSession({str(tmp_path / "demos")!r}, "panda", "reach", TOPICS)
for seed in range(2):
    session.handle("start", seed=seed)
    play(session, image, joints, seed * 10**10, 15)
    session.handle("success")
session.handle("start", seed=2)
play(session, image, joints, 3 * 10**10, 15)
os.kill(os.getpid(), signal.SIGKILL)  # no close, no goodbye
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == -9, done.stderr
    for index in (0, 1):
        episode = tmp_path / "demos" / f"episode_{index:04d}"
        assert read_episode(episode).label == "success"
        assert len(list(read_messages(episode))) == 15 + 90
    with pytest.raises(ValueError, match="episode_0002: no episode.json"):
        read_episode(tmp_path / "demos" / "episode_0002")
