"""libusb for the wheels that link it (pyrealsense2, open3d): the system's, or PyPI's libusb-package.

Both wheels load `libusb-1.0.so.0` when imported. A lab machine with a RealSense has it from apt
(`libusb-1.0-0`, with the udev rules that give the camera's USB device to users); a machine without it
(CI, a container) gets the same library from the `libusb-package` wheel, loaded globally first so the
dynamic linker finds it by name.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib

INSTALL_HINT = "apt-get install libusb-1.0-0 (or pip install libusb-package)"


def ensure_libusb() -> str:
    """Where libusb-1.0 comes from: "system" or the libusb-package path (raises RuntimeError if none)."""
    if ctypes.util.find_library("usb-1.0"):
        return "system"
    try:
        import libusb_package
    except ImportError:
        raise RuntimeError(f"libusb-1.0 is missing: {INSTALL_HINT}") from None
    path = str(libusb_package.get_library_path())
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
    return path


def import_with_libusb(module: str):
    """Import a module whose extension links libusb-1.0, after making sure the library loads."""
    ensure_libusb()
    return importlib.import_module(module)
