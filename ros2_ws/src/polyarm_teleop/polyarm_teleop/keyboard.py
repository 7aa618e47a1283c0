"""KeyboardDevice: the terminal `polyarm teleop` runs in, read byte by byte (works over SSH, with no display).

A terminal sends key presses and the key's auto-repeat, never releases: a key moves its axis from its
press until `hold_s` after its last repeat. A tap is a short nudge; a held key moves after the terminal's
auto-repeat delay (typically 0.25-0.5 s) and keeps moving while it repeats.

    w / s, up / down     +x / -x (away from / toward the base)      u / o  roll + / -
    a / d, left / right  +y / -y                                     i / k  pitch + / -
    r / f, PgUp / PgDn   +z / -z                                     j / l  yaw + / -
    space  gripper (toggle)     + / -  faster / slower
    b  start an episode   y  stop: success   n  stop: failure   x  discard   h  reset (home)   q  quit
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty

import numpy as np
from polyarm_core.teleop import TeleopCommand, TeleopDevice

# key: (0 translation / 1 rotation, axis, sign)
MOTION_KEYS = {
    "w": (0, 0, 1), "s": (0, 0, -1), "a": (0, 1, 1), "d": (0, 1, -1), "r": (0, 2, 1), "f": (0, 2, -1),
    "up": (0, 0, 1), "down": (0, 0, -1), "left": (0, 1, 1), "right": (0, 1, -1), "pageup": (0, 2, 1), "pagedown": (0, 2, -1),
    "u": (1, 0, 1), "o": (1, 0, -1), "i": (1, 1, 1), "k": (1, 1, -1), "j": (1, 2, 1), "l": (1, 2, -1),
}
EVENT_KEYS = {"b": "start", "y": "success", "n": "failure", "x": "discard", "h": "reset", "q": "quit",
              "+": "faster", "=": "faster", "-": "slower", "_": "slower"}
ESCAPES = {"\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left", "\x1b[5~": "pageup", "\x1b[6~": "pagedown",
           "\x1bOA": "up", "\x1bOB": "down", "\x1bOC": "right", "\x1bOD": "left"}


def decode_keys(data: str) -> list[str]:
    """Key names in the order typed: printable keys as themselves (lower case), arrows and page keys by name."""
    keys, i = [], 0
    while i < len(data):
        if data[i] == "\x1b":
            match = next((seq for seq in ESCAPES if data.startswith(seq, i)), None)
            keys.append(ESCAPES[match] if match else "escape")
            i += len(match) if match else 1
        else:
            keys.append("space" if data[i] == " " else data[i].lower() if data[i].isalpha() else data[i])
            i += 1
    return keys


class KeyboardDevice(TeleopDevice):
    def __init__(self, tty_path: str | None = None, hold_s: float = 0.12, clock=time.monotonic):
        self.tty_path, self.hold_s, self._clock = tty_path, hold_s, clock
        self._fd: int | None = None
        self._own_fd = False
        self._saved = None
        self._pressed: dict[str, float] = {}  # motion key: time of its last press or repeat
        self._gripper_open = True
        self._pending = ""  # an escape sequence split across reads

    def connect(self) -> None:
        if self.tty_path:
            try:
                self._fd, self._own_fd = os.open(self.tty_path, os.O_RDWR | os.O_NOCTTY), True
            except OSError as err:
                raise RuntimeError(f"keyboard: cannot open the terminal {self.tty_path}: {err.strerror}") from None
        else:
            self._fd = sys.stdin.fileno()
        if not os.isatty(self._fd):
            raise RuntimeError("keyboard: stdin is not a terminal; run polyarm teleop in one (over SSH: ssh -t)")
        self._saved = termios.tcgetattr(self._fd)
        tty.setcbreak(self._fd)  # keys arrive as typed, unechoed; Ctrl-C still interrupts

    def read(self) -> TeleopCommand:
        now = self._clock()
        events, gripper = [], None
        for key in self._keys():
            if key in MOTION_KEYS:
                self._pressed[key] = now
            elif key == "space":
                self._gripper_open = not self._gripper_open
                gripper = 1.0 if self._gripper_open else 0.0
            elif key in EVENT_KEYS:
                events.append(EVENT_KEYS[key])
        axes = np.zeros((2, 3))
        for key, pressed_at in list(self._pressed.items()):
            if now - pressed_at > self.hold_s:
                del self._pressed[key]
                continue
            kind, axis, sign = MOTION_KEYS[key]
            axes[kind, axis] += sign
        axes = np.clip(axes, -1.0, 1.0)
        return TeleopCommand(translation=axes[0], rotation=axes[1], gripper=gripper, events=tuple(events))

    def _keys(self) -> list[str]:
        data = self._pending
        while self._fd is not None and select.select([self._fd], [], [], 0.0)[0]:
            chunk = os.read(self._fd, 1024)
            if not chunk:
                raise RuntimeError("keyboard: the terminal closed")
            data += chunk.decode(errors="replace")
        # an escape sequence cut short by the read: keep it for the next one
        tail = data[data.rfind("\x1b"):] if "\x1b" in data else ""
        if tail and tail not in ESCAPES and any(seq.startswith(tail) for seq in ESCAPES):
            data, self._pending = data[: -len(tail)], tail
        else:
            self._pending = ""
        return decode_keys(data)

    def close(self) -> None:
        if self._fd is None:
            return
        if self._saved is not None:
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)  # the terminal as it was
        if self._own_fd:
            os.close(self._fd)
        self._fd = None


def keyboard(tty_path: str | None = None, hold_s: float = 0.12) -> KeyboardDevice:
    return KeyboardDevice(tty_path, hold_s)
