"""Test isolation and helpers for multi-process ROS 2 tests.

Every run gets its own ROS_DOMAIN_ID and localhost-only discovery, so parallel runs on one host
never see each other. Helpers wait on discovery and on messages, never on fixed sleeps.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(1, 200))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("ROS_STATIC_PEERS", None)

from polyarm_common.graph import Collector, call_service, set_parameters, spin_for, spin_until  # noqa: F401 - re-exported for tests
from polyarm_common.processes import start_polyarm, stop
from polyarm_common.ros_env import configure_ros_environment
from sim_bridge.rendering import configure_gl_backend

configure_ros_environment()
configure_gl_backend()  # before anything imports mujoco

from workspace import REPO, WORKSPACE, package_dirs  # noqa: E402

WORKSPACE_PACKAGES = set(package_dirs())


# Fixtures that train a policy: a test that uses one is in the training tier (pyproject.toml's markers).
TRAINING_FIXTURES = {"reach_bc_run"}


def pytest_collection_modifyitems(items):
    for item in items:
        if TRAINING_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.training)


def sourced_environment() -> dict:
    """This environment less what would make a sourced install space's packages lose to the venv's."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AMENT_PREFIX_PATH", "COLCON_PREFIX_PATH")}


@pytest.fixture(autouse=True)
def ordinary_scheduling():
    """Keeps the test process an ordinary one: libfranka raises the thread that connects to a robot to
    SCHED_FIFO 99 (as root), and every process the suite started after an in-process franky test inherited
    it, franky-sim and the sim spinning at real-time priority, which failed the timing tests that followed."""
    yield
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


@pytest.fixture(scope="session")
def install_space(tmp_path_factory):
    """`colcon build` run in ros2_ws/, as on a ROS 2 machine (its colcon_defaults.yaml names the folders), with
    the build, install and log spaces in a temporary folder; its install space."""
    colcon = Path(sys.executable).with_name("colcon")
    if not colcon.exists():
        colcon = shutil.which("colcon")
    assert colcon, "colcon is not installed (requirements/dev.txt)"
    base = tmp_path_factory.mktemp("colcon")
    cmd = [str(colcon), "--log-base", str(base / "log"), "build",
           "--build-base", str(base / "build"), "--install-base", str(base / "install")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=WORKSPACE,
                          env={k: v for k, v in os.environ.items() if not k.startswith("COLCON_")})
    assert done.returncode == 0, done.stdout + done.stderr
    for package in WORKSPACE_PACKAGES:
        assert f"Finished <<< {package}" in done.stdout
    return base / "install"


@pytest.fixture(scope="session")
def rclpy_context():
    import rclpy

    rclpy.init()
    yield
    rclpy.try_shutdown()


@pytest.fixture
def node(rclpy_context, request, start_node):
    """A test's own rclpy node. It asks for start_node so that it is destroyed before the processes the
    test started are stopped: a controller lingers on shutdown while a controller/target_pose publisher
    is still there (up to 4 s, so a policy's last controller/hold is answered), and the test's node is one."""
    import rclpy

    n = rclpy.create_node(f"test_{request.node.name[:40].replace('[', '_').replace(']', '').replace('-', '_')}")
    yield n
    n.destroy_node()


class NodeProcess:
    """A `polyarm <command>` in its own process; stdout and stderr go to a log file shown on failure."""

    def __init__(self, command: str, name: str, tmp_path: Path, *args: str):
        self.log_path = tmp_path / f"{command}_{name}.log"
        self._log = open(self.log_path, "w")
        self.proc = start_polyarm(command, *args, stdout=self._log, stderr=subprocess.STDOUT, cwd=REPO)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def stop(self) -> int:
        code = stop(self.proc)
        self._log.close()
        return code


@pytest.fixture
def start_node(tmp_path):
    """start_node("sim", "--robot", "panda", ...): started now, stopped (SIGINT) after the test,
    which fails if a process did not exit cleanly."""
    started = []

    def start(command: str, *args: str) -> NodeProcess:
        name = args[args.index("--robot") + 1] if "--robot" in args else command
        proc = NodeProcess(command, f"{name}_{len(started)}", tmp_path, *args)
        started.append(proc)
        return proc

    yield start
    failures = []
    for proc in reversed(started):
        code = proc.stop()
        if code not in (0, -signal.SIGINT):
            failures.append(f"{proc.log_path.name} exited with {code}:\n{proc.log()}")
    assert not failures, "\n".join(failures)


@pytest.fixture
def start_sim(start_node):
    def start(robot: str, *extra: str) -> NodeProcess:
        return start_node("sim", "--robot", robot, *extra)

    return start


@pytest.fixture(scope="session")
def reach_state_dataset(tmp_path_factory) -> Path:
    """40 scripted Panda reach episodes, state only (no camera): what state-based policies train on."""
    from sim_bridge.collect import main as collect

    path = tmp_path_factory.mktemp("data") / "panda_reach_state"
    assert collect(["--robot", "panda", "--task", "reach", "--episodes", "40", "--out", str(path), "--image-size", "0"]) == 0
    return path


# A state-based BC policy on reach, trained by `polyarm train`: CI-sized settings (batch 64, 3000 steps)
BC_REACH_ARGS = ["--algo", "bc", "--steps", "3000", "--batch-size", "64", "--eval-every", "1500", "--eval-episodes", "10", "--no-progress"]


@pytest.fixture(scope="session")
def reach_bc_run(reach_state_dataset, tmp_path_factory) -> Path:
    from polyarm_learning.train import main as train

    out = tmp_path_factory.mktemp("runs") / "reach_bc"
    assert train([*BC_REACH_ARGS, "--dataset", str(reach_state_dataset), "--out", str(out)]) == 0
    return out


FRANKY_SIM = Path(sys.executable).with_name("franky-sim")


def private_loopback() -> str:
    """An address of its own in 127.0.0.0/8 for a robot simulator, so parallel runs never meet."""
    return f"127.0.{random.SystemRandom().randint(1, 250)}.{random.SystemRandom().randint(2, 250)}"


def can_serve_port(port: int) -> bool:
    """Whether this user may listen on `port` (below 1024 needs root: the xArm SDK dials 502)."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind((private_loopback(), port))
            return True
        except PermissionError:
            return False


def wait_until_ready(proc: subprocess.Popen, log_path: Path, ready: str, timeout: float = 60.0) -> None:
    """Until the process's log says `ready` (it failing, or the time running out, fails with its log)."""
    deadline = time.monotonic() + timeout
    while ready not in log_path.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.1)


def start_franky_sim(log_path: Path) -> tuple[subprocess.Popen, str]:
    """franky-sim on an address of its own; ready when it says so."""
    host = private_loopback()
    proc = subprocess.Popen([str(FRANKY_SIM), "-s", "mujoco", "--hostname", host], stdout=open(log_path, "w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    wait_until_ready(proc, log_path, "Connect to the server")
    return proc, host


def start_fake_robot(log_path: Path, robot: str, *args: str, ready: str) -> subprocess.Popen:
    """`polyarm fake-robot --robot ROBOT ARGS` in its own process (faults go to its stdin), once its log says `ready`."""
    proc = start_polyarm("fake-robot", "--robot", robot, *args, stdin=subprocess.PIPE, stdout=open(log_path, "w"),
                         stderr=subprocess.STDOUT, text=True)
    wait_until_ready(proc, log_path, ready)
    return proc


@pytest.fixture
def franky_sim(tmp_path):
    """franky-sim (libfranka's protocol over its MuJoCo Panda) in its own process: (host, process)."""
    if not FRANKY_SIM.exists():
        pytest.skip("franky-sim is not installed (requirements/base.txt)")
    proc, host = start_franky_sim(tmp_path / "franky_sim.log")
    yield host, proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


