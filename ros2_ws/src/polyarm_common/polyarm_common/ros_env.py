"""Process environment for ROS 2, set before rclpy creates its first participant."""

from __future__ import annotations

import os
from pathlib import Path

FASTDDS_PROFILE = Path(__file__).resolve().parent / "config" / "fastdds_shm.xml"


def configure_ros_environment(environ: dict | None = None) -> dict:
    """Use Fast DDS with polyarm's shared-memory profile unless the user chose otherwise.

    Fast DDS reads the profile when the first participant is created, so calling this before
    rclpy.init() in the same process is enough; child processes inherit it.
    """
    env = os.environ if environ is None else environ
    env.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
    if "FASTRTPS_DEFAULT_PROFILES_FILE" not in env and "FASTDDS_DEFAULT_PROFILES_FILE" not in env:
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(FASTDDS_PROFILE)
    return env
