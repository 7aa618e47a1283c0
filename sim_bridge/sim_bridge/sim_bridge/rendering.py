"""Headless OpenGL for MuJoCo: pick EGL or OSMesa before mujoco is imported, or say what to install."""

from __future__ import annotations

import ctypes.util
import os

# backend -> (shared library that must load, Debian/Ubuntu package that provides it)
BACKENDS = {
    "egl": ("EGL", "libegl1 libgl1-mesa-dri"),
    "osmesa": ("OSMesa", "libosmesa6"),
}


class RenderBackendError(RuntimeError):
    pass


def install_hint() -> str:
    return "; ".join(f"{name}: apt-get install {pkg}" for name, (_, pkg) in BACKENDS.items())


def backend_available(name: str) -> bool:
    library, _ = BACKENDS[name]
    return ctypes.util.find_library(library) is not None


def configure_gl_backend(environ: dict | None = None) -> str:
    """Set MUJOCO_GL (and PyOpenGL's platform) to a headless backend that can load here.

    Must run before `import mujoco`, which reads MUJOCO_GL once.
    """
    env = os.environ if environ is None else environ
    requested = env.get("MUJOCO_GL", "").lower()
    if requested and requested not in BACKENDS:
        raise RenderBackendError(
            f"MUJOCO_GL={requested!r} is not a headless backend; use one of {sorted(BACKENDS)}"
        )
    candidates = [requested] if requested else list(BACKENDS)
    for name in candidates:
        if backend_available(name):
            env["MUJOCO_GL"] = name
            env.setdefault("PYOPENGL_PLATFORM", name)
            return name
    raise RenderBackendError(
        f"no headless OpenGL library found for MuJoCo rendering (tried {', '.join(candidates)}); "
        f"install one — {install_hint()}"
    )
