"""Test isolation and helpers for multi-process ROS 2 tests.

Every run gets its own ROS_DOMAIN_ID and localhost-only discovery, so parallel runs on one host
never see each other. Helpers wait on discovery and on messages, never on fixed sleeps.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 200))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_STATIC_PEERS", None)

from polyarm_common.graph import Collector, spin_for, spin_until  # noqa: E402,F401 - re-exported for tests
from polyarm_common.ros_env import configure_ros_environment  # noqa: E402
from sim_bridge.rendering import configure_gl_backend  # noqa: E402

configure_ros_environment()
configure_gl_backend()  # before anything imports mujoco

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def rclpy_context():
    import rclpy

    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def node(rclpy_context, request):
    import rclpy

    n = rclpy.create_node(f"test_{request.node.name[:40].replace('[', '_').replace(']', '').replace('-', '_')}")
    yield n
    n.destroy_node()


class SimProcess:
    """`polyarm sim` in its own process; stderr/stdout go to a log file shown on failure."""

    def __init__(self, robot: str, tmp_path: Path, *extra: str):
        self.log_path = tmp_path / f"sim_{robot}.log"
        self._log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "polyarm.cli", "sim", "--robot", robot, *extra]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


@pytest.fixture
def start_sim(tmp_path):
    sims = []

    def start(robot: str, *extra: str) -> SimProcess:
        sim = SimProcess(robot, tmp_path, *extra)
        sims.append(sim)
        return sim

    yield start
    for sim in sims:
        code = sim.stop()
        assert code in (0, -signal.SIGINT), f"sim exited with {code}:\n{sim.log()}"
