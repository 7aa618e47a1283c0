"""GamepadDevice: a gamepad through the kernel's evdev interface (/dev/input/event*), read as raw
`struct input_event`s.

evdev rather than SDL (pygame): it reads the kernel's events with no display, window or SDL event loop,
so it works over SSH and in a headless container that is given the device; python-evdev supplies the
event codes and each axis's range. Xbox layout (the kernel's xpad names):

    left stick    x (push: away from the base), y (left: +y)      LB held  deadman: nothing moves unless held
    triggers      z (RT up, LT down)                               A        gripper (toggle)
    right stick   roll (left / right), pitch (push / pull)         START    start an episode
    D-pad         yaw (left / right), faster / slower (up / down)  Y success   B failure   X discard
    BACK          reset (home)                                     GUIDE    quit
"""

from __future__ import annotations

import os
import struct

import numpy as np
from evdev import ecodes as e
from polyarm_core.teleop import TeleopCommand, TeleopDevice

INPUT_EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit Linux: timeval, type, code, value
DEADMAN = e.BTN_TL
GRIPPER = e.BTN_SOUTH
BUTTON_EVENTS = {e.BTN_START: "start", e.BTN_NORTH: "success", e.BTN_EAST: "failure", e.BTN_WEST: "discard",
                 e.BTN_SELECT: "reset", e.BTN_MODE: "quit"}
STICKS = (e.ABS_X, e.ABS_Y, e.ABS_RX, e.ABS_RY)
TRIGGERS = (e.ABS_Z, e.ABS_RZ)
# the xpad driver's ranges, used when the device cannot be asked (a recording, a test)
XPAD_RANGES = {**{code: (-32768, 32767) for code in STICKS}, **{code: (0, 1023) for code in TRIGGERS},
               e.ABS_HAT0X: (-1, 1), e.ABS_HAT0Y: (-1, 1)}
UDEV_HINT = ('add yourself to the "input" group (sudo usermod -aG input $USER, then log in again) or add a udev rule '
             'such as SUBSYSTEM=="input", KERNEL=="event*", ATTRS{idVendor}=="045e", MODE="0660", GROUP="input"')


def find_gamepad() -> str:
    """The first /dev/input/event* with two sticks and a south button; RuntimeError naming what is missing."""
    import evdev

    if not os.path.isdir("/dev/input"):
        raise RuntimeError("gamepad: /dev/input does not exist (a container? pass the device through with --device)")
    paths = evdev.list_devices()
    if not paths and any(name.startswith("event") for name in os.listdir("/dev/input")):
        raise RuntimeError(f"gamepad: cannot read /dev/input/event*: permission denied; {UDEV_HINT}")
    for path in paths:
        device = evdev.InputDevice(path)
        capabilities = device.capabilities()
        if e.ABS_X in dict(capabilities.get(e.EV_ABS, [])) and e.BTN_SOUTH in capabilities.get(e.EV_KEY, []):
            device.close()
            return path
        device.close()
    raise RuntimeError(f"gamepad: no gamepad among {len(paths)} input devices (is it plugged in and paired?)")


class GamepadDecoder:
    """The pad's state from its input events: axes in [-1, 1] (triggers [0, 1]), buttons held, presses."""

    def __init__(self, ranges: dict[int, tuple[int, int]] | None = None):
        self.ranges = dict(XPAD_RANGES, **(ranges or {}))
        self.axes = {code: 0.0 for code in self.ranges}
        self.held: set[int] = set()
        self.presses: list[int] = []  # buttons (and D-pad directions as ABS_HAT0Y signs) pressed since the last take
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data
        whole = len(self._buffer) - len(self._buffer) % INPUT_EVENT.size
        for _, _, kind, code, value in INPUT_EVENT.iter_unpack(self._buffer[:whole]):
            self._event(kind, code, value)
        self._buffer = self._buffer[whole:]

    def _event(self, kind: int, code: int, value: int) -> None:
        if kind == e.EV_KEY:
            if value == 1:
                self.held.add(code)
                self.presses.append(code)
            elif value == 0:
                self.held.discard(code)
        elif kind == e.EV_ABS and code in self.ranges:
            low, high = self.ranges[code]
            if code == e.ABS_HAT0Y and value != 0:
                self.presses.append(("hat_y", value))
            unit = (value - low) / (high - low)  # 0 .. 1
            self.axes[code] = unit if code in TRIGGERS else 2.0 * unit - 1.0 if high - low > 2 else float(value)

    def take_presses(self) -> list:
        presses, self.presses = self.presses, []
        return presses


class GamepadDevice(TeleopDevice):
    def __init__(self, path: str | None = None, fd: int | None = None, ranges=None):
        self.path, self._fd = path, fd
        self.decoder = GamepadDecoder(ranges)
        self._gripper_open = True
        self._device = None

    def connect(self) -> None:
        if self._fd is not None:
            return  # events already arrive on a descriptor (a recording, a test)
        import evdev

        self.path = self.path or find_gamepad()
        try:
            self._device = evdev.InputDevice(self.path)
        except PermissionError:
            raise RuntimeError(f"gamepad: cannot open {self.path}: permission denied; {UDEV_HINT}") from None
        except FileNotFoundError:
            raise RuntimeError(f"gamepad: {self.path} does not exist (unplugged?)") from None
        self.decoder.ranges.update({code: (info.min, info.max) for code, info in self._device.capabilities()
                                    .get(e.EV_ABS, []) if code in self.decoder.ranges})
        self._fd = self._device.fd
        os.set_blocking(self._fd, False)

    def read(self) -> TeleopCommand:
        while True:
            try:
                chunk = os.read(self._fd, INPUT_EVENT.size * 64)
            except BlockingIOError:
                break
            except OSError as err:
                raise RuntimeError(f"gamepad: lost {self.path or 'the device'}: {err.strerror}") from None
            if not chunk:
                break
            self.decoder.feed(chunk)
        return self.command()

    def command(self) -> TeleopCommand:
        d = self.decoder
        a = d.axes
        events, gripper = [], None
        for press in d.take_presses():
            if press == GRIPPER:
                self._gripper_open = not self._gripper_open
                gripper = 1.0 if self._gripper_open else 0.0
            elif press in BUTTON_EVENTS:
                events.append(BUTTON_EVENTS[press])
            elif isinstance(press, tuple):
                events.append("faster" if press[1] < 0 else "slower")  # D-pad up reads -1
        translation = np.array([-a[e.ABS_Y], -a[e.ABS_X], a[e.ABS_RZ] - a[e.ABS_Z]])
        rotation = np.array([-a[e.ABS_RX], -a[e.ABS_RY], -a[e.ABS_HAT0X]])
        return TeleopCommand(translation=translation, rotation=rotation, gripper=gripper, events=tuple(events),
                             enabled=DEADMAN in d.held)

    def close(self) -> None:
        if self._device is not None:
            self._device.close()
            self._device = None


def gamepad(path: str | None = None) -> GamepadDevice:
    return GamepadDevice(path)
