"""SpaceMouseDevice: a 3Dconnexion SpaceMouse through pyspacemouse (HID reports over hidapi).

pyspacemouse decodes the reports with its table of devices, in its right-handed Z-up convention
(x right, y away from the operator, z up; roll, pitch, yaw about those). Here the operator faces the
robot's +x (`operator_yaw` turns that): pushing the cap away moves the TCP along +x, right along -y,
lifting it along +z, and twisting it turns the TCP about the same axes. The first button toggles the
gripper; the second sends `start`, which a recording session reads mid-episode as "stop: success"
(label failures and discards on the keyboard).
"""

from __future__ import annotations

import math

import numpy as np
from polyarm_core.teleop import TeleopCommand, TeleopDevice

UDEV_HINT = ('add a udev rule such as KERNEL=="hidraw*", ATTRS{idVendor}=="256f", MODE="0660", GROUP="plugdev" '
             '(046d for older Logitech-made models), then replug it')


def device_to_base(operator_yaw: float = 0.0) -> np.ndarray:
    """The rotation taking the SpaceMouse's axes (x right, y away, z up) to base_link's."""
    c, s = math.cos(operator_yaw), math.sin(operator_yaw)
    facing = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return facing @ np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def z_up_spec(model: str):
    """pyspacemouse's description of a model (e.g. SpaceMouseCompact), in its Z-up convention."""
    from pyspacemouse.config_helpers import apply_axis_convention
    from pyspacemouse.loader import get_device_specs
    from pyspacemouse.types import AxisConvention

    specs = get_device_specs()
    if model not in specs:
        raise ValueError(f"unknown SpaceMouse model {model!r}; pyspacemouse knows {sorted(specs)}")
    return apply_axis_convention(specs[model], AxisConvention.HID_Z_UP)


class SpaceMouseDevice(TeleopDevice):
    def __init__(self, model: str | None = None, operator_yaw: float = 0.0, hid=None):
        """`hid`: an open HID transport (read(n) -> report bytes) to decode instead of finding the device."""
        self.model, self._hid = model, hid
        self.rotation = device_to_base(operator_yaw)
        self._mouse = None
        self._buttons = (0, 0)
        self._gripper_open = True

    def connect(self) -> None:
        if self._hid is not None:
            from pyspacemouse.device import SpaceMouseDevice as Decoder

            self._mouse = Decoder(info=z_up_spec(self.model or "SpaceMouseCompact"), device=self._hid)
            return
        import pyspacemouse
        from pyspacemouse.types import AxisConvention

        try:
            self._mouse = pyspacemouse.open(device=self.model, axis_convention=AxisConvention.HID_Z_UP, nonblocking=True)
        except OSError as err:  # hidapi itself, or the hidraw node
            raise RuntimeError(f"spacemouse: cannot open it ({err}); the system's hidapi (apt libhidapi-hidraw0) "
                               f"is needed, and read access to /dev/hidraw*: {UDEV_HINT}") from None
        except RuntimeError as err:
            if "HID API" in str(err):  # easyhid found no libhidapi
                raise RuntimeError("spacemouse: the system's hidapi library is missing (apt install libhidapi-hidraw0)") from None
            raise RuntimeError(f"spacemouse: {err} (is it plugged in? lsusb | grep -i 3dconnexion); if it is, "
                               f"{UDEV_HINT}") from None

    def read(self) -> TeleopCommand:
        if self._mouse is None:
            raise RuntimeError("spacemouse: read before connect")
        state = self._mouse.read()  # one report per read: drain what is waiting, the latest of each channel wins
        for _ in range(63):
            stamp = state.t
            state = self._mouse.read()
            if state.t == stamp:
                break
        translation = self.rotation @ np.array([state.x, state.y, state.z])
        rotation = self.rotation @ np.array([state.roll, state.pitch, state.yaw])
        buttons = tuple(state.buttons[:2]) + (0,) * max(0, 2 - len(state.buttons))
        pressed = [now and not before for now, before in zip(buttons, self._buttons)]
        self._buttons = buttons
        events, gripper = [], None
        if pressed[0]:
            self._gripper_open = not self._gripper_open
            gripper = 1.0 if self._gripper_open else 0.0
        if pressed[1]:
            events.append("start")  # mid-episode, the session reads a start as: stop, success
        return TeleopCommand(translation=np.clip(translation, -1, 1), rotation=np.clip(rotation, -1, 1),
                             gripper=gripper, events=tuple(events))

    def close(self) -> None:
        if self._mouse is not None and self._hid is None:
            self._mouse.close()
        self._mouse = None


def spacemouse(model: str | None = None, operator_yaw: float = 0.0) -> SpaceMouseDevice:
    return SpaceMouseDevice(model, operator_yaw)
