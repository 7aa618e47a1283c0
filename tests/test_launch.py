"""`ros2 launch` for real: the Jazzy launch and launch_ros sources in ../shared/ros2-launch-jazzy run the
installed launch file over a colcon install space, as on a lab machine with ROS 2 sourced."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO, Collector, call_service, sourced_environment, spin_until
from polyarm_common.processes import stop
from real_arm_graph import hold_target

LAUNCH_SOURCES = REPO.parent / "shared" / "ros2-launch-jazzy"
STARTUP_S = 90.0
STOP_S = 10.0  # Ctrl-C to everything stopped

pytestmark = [
    pytest.mark.ros,
    pytest.mark.skipif(not (LAUNCH_SOURCES / "ros2-launch").exists(),
                       reason=f"{LAUNCH_SOURCES} is absent: no registry serves ROS 2's launch, so the real "
                              "ros2 launch runs only where shared/ holds its sources (CI, developers' machines)"),
]


class Launch:
    """`ros2 launch polyarm_bringup polyarm.launch.py ARGS` in a session of its own, as from a terminal."""

    def __init__(self, install: Path, tmp_path: Path, *args: str):
        launch_file = install / "polyarm_bringup" / "share" / "polyarm_bringup" / "launch" / "polyarm.launch.py"
        assert launch_file.exists(), "the bringup package does not install its launch file"
        self.log_path = tmp_path / "launch.log"
        command = (f". {install}/setup.bash && exec {sys.executable} {LAUNCH_SOURCES / 'ros2-launch'} "
                   f"{launch_file} {' '.join(args)}")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(["bash", "-c", command], stdout=log, stderr=subprocess.STDOUT,
                                         env=sourced_environment(), start_new_session=True)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait(self, timeout: float) -> float:
        """Seconds until launch exited (TimeoutError with the log if it did not)."""
        t0 = time.monotonic()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            raise TimeoutError(f"ros2 launch still running {timeout} s later:\n{self.log()}") from None
        return time.monotonic() - t0

    def pid_of(self, executable: str) -> int:
        found = subprocess.run(["pgrep", "-s", str(self.proc.pid), "-f", f"lib/{executable}"], capture_output=True, text=True)
        return int(found.stdout.split()[0])

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def launch(install_space, tmp_path):
    started = []

    def start(*args: str) -> Launch:
        started.append(Launch(install_space, tmp_path, *args))
        return started[-1]

    yield start
    for launched in started:
        launched.kill()


def assert_every_process_finished_cleanly(log: str, processes: tuple[str, ...]) -> None:
    assert "SIGTERM" not in log and "SIGKILL" not in log, log
    for name in processes:
        assert re.search(rf"\[INFO\] \[{name}-\d+\]: process has finished cleanly", log), f"{name} did not exit cleanly:\n{log}"
    assert "process has died" not in log, log


def test_ros2_launch_runs_the_graph_and_ctrl_c_stops_it_with_the_policy_hold_answered(launch, node, tmp_path):
    from geometry_msgs.msg import PoseStamped
    from polyarm_common.qos import COMMAND, SENSOR, STATE
    from rcl_interfaces.srv import GetParameters
    from sensor_msgs.msg import Image, JointState
    from std_srvs.srv import Trigger

    bag = tmp_path / "bag"
    graph = launch("robot:=panda", f"checkpoint:={REPO / 'demo' / 'panda_press_button.pt'}", "task:=press_button",
                   "namespace:=arm", f"record:={bag}")
    states = Collector(node, JointState, "/arm/joint_states", STATE)
    poses = Collector(node, PoseStamped, "/arm/controller/ee_pose", STATE)
    images = Collector(node, Image, "/arm/camera/color/image_raw", SENSOR)
    targets = Collector(node, PoseStamped, "/arm/controller/target_pose", COMMAND)
    spin_until(node, lambda: states.messages and poses.messages and images.messages, STARTUP_S,
               f"joint_states, ee_pose and camera frames under /arm ({graph.log()})")

    # the bringup's parameters arrived: the policy runs the demo's task on the sim's clock
    parameters = node.create_client(GetParameters, "/arm/policy/get_parameters")
    assert parameters.wait_for_service(timeout_sec=30.0)
    answer = call_service(node, parameters, GetParameters.Request(names=["task", "use_sim_time", "robot"]), 20.0)
    assert [v.string_value for v in answer.values[:1]] == ["press_button"] and answer.values[1].bool_value
    start = node.create_client(Trigger, "/arm/policy/start")
    assert start.wait_for_service(timeout_sec=30.0) and call_service(node, start, Trigger.Request(), 20.0).success
    spin_until(node, lambda: len(targets.messages) >= 2, 60.0, "the policy's targets")

    os.killpg(graph.proc.pid, signal.SIGINT)  # a terminal's Ctrl-C
    seconds = graph.wait(STOP_S)
    log = graph.log()
    assert graph.proc.returncode == 0, log
    assert "shutting down; the controller holds" in log, log
    assert_every_process_finished_cleanly(log, ("sim", "controller", "policy", "record"))
    print(f"ros2 launch stopped {seconds:.1f} s after Ctrl-C")

    from polyarm_data.recording import read_messages

    topics = {topic for topic, _, _ in read_messages(bag)}
    assert {"/arm/joint_states", "/arm/controller/target_pose", "/arm/camera/color/image_raw"} <= topics
    assert not any("aligned_depth_to_color" in t for t in topics), "recorder.yaml's exclusions hold under a namespace"


def test_the_sim_exiting_stops_the_rest_of_the_launch_without_a_kill(launch, node):
    from geometry_msgs.msg import PoseStamped
    from polyarm_common.qos import COMMAND
    from std_srvs.srv import Trigger

    graph = launch("robot:=panda", f"checkpoint:={REPO / 'demo' / 'panda_press_button.pt'}", "task:=press_button")
    targets = Collector(node, PoseStamped, "/controller/target_pose", COMMAND)
    start = node.create_client(Trigger, "/policy/start")
    assert start.wait_for_service(timeout_sec=STARTUP_S), graph.log()
    assert call_service(node, start, Trigger.Request(), 20.0).success
    spin_until(node, lambda: len(targets.messages) >= 2, 60.0, f"the policy acting ({graph.log()})")
    os.kill(graph.pid_of("sim_bridge/sim"), signal.SIGTERM)
    graph.wait(STOP_S)
    log = graph.log()
    assert "shutting down; the controller holds" in log, log
    assert_every_process_finished_cleanly(log, ("sim", "controller", "policy"))


def test_ros2_launch_drives_the_panda_over_franky_with_the_law_in_the_driver(launch, node, franky_sim):
    """`ros2 launch ... sim:=none driver:=franky robot_ip:=IP` against franky-sim: one driver node carries the
    controller (no controller process), a target moves the arm there, Ctrl-C stops it cleanly."""
    import numpy as np
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.qos import COMMAND, STATE

    host, _ = franky_sim
    graph = launch("robot:=panda", "sim:=none", "driver:=franky", f"robot_ip:={host}", "realtime:=ignore", "camera:=false")
    poses = Collector(node, PoseStamped, "/controller/ee_pose", STATE)
    spin_until(node, lambda: len(poses.messages) > 20, STARTUP_S, f"ee_pose from the franky driver ({graph.log()})")
    start, quaternion = conv.pose_arrays(poses.last)
    goal = start + np.array([0.0, 0.04, -0.02])
    targets = node.create_publisher(PoseStamped, "/controller/target_pose", COMMAND)
    hold_target(node, targets, goal, quaternion, 4.0)  # franky-sim runs at 60-90% of real time
    assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - goal) < 3e-3, (conv.pose_arrays(poses.last)[0], goal)
    os.killpg(graph.proc.pid, signal.SIGINT)
    graph.wait(STOP_S)
    log = graph.log()
    assert graph.proc.returncode == 0, log
    assert "controller in the driver's loop" in log and "[controller-" not in log, log
    assert_every_process_finished_cleanly(log, ("driver",))


def reach_a_target_through_a_real_arm_graph(launch, node, *arguments: str) -> None:
    """`ros2 launch ... sim:=none ARGUMENTS`: ee_pose comes from the driver and the controller node, a target
    3 cm forward and 2 cm down is reached within 3 mm, and Ctrl-C stops both cleanly."""
    import numpy as np
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.qos import COMMAND, STATE

    graph = launch("sim:=none", *arguments, "camera:=false")
    poses = Collector(node, PoseStamped, "/controller/ee_pose", STATE)
    spin_until(node, lambda: len(poses.messages) > 20, STARTUP_S, f"ee_pose over the driver ({graph.log()})")
    start, quaternion = conv.pose_arrays(poses.last)
    goal = start + np.array([0.03, 0.0, -0.02])
    targets = node.create_publisher(PoseStamped, "/controller/target_pose", COMMAND)
    hold_target(node, targets, goal, quaternion, 2.5)
    assert np.linalg.norm(conv.pose_arrays(poses.last)[0] - goal) < 3e-3, (conv.pose_arrays(poses.last)[0], goal)
    os.killpg(graph.proc.pid, signal.SIGINT)
    graph.wait(STOP_S)
    log = graph.log()
    assert graph.proc.returncode == 0, log
    assert_every_process_finished_cleanly(log, ("driver", "controller"))


def test_ros2_launch_drives_the_widowx_over_its_dynamixel_bus(launch, node, tmp_path):
    """`ros2 launch ... robot:=wx250s sim:=none driver:=dynamixel port:=PATH` against `polyarm fake-robot`."""
    from conftest import start_fake_robot

    link = tmp_path / "ttyDXL"
    fake = start_fake_robot(tmp_path / "fake_bus.log", "wx250s", "--port", str(link), ready="Dynamixel bus for the")
    try:
        reach_a_target_through_a_real_arm_graph(launch, node, "robot:=wx250s", "driver:=dynamixel", f"port:={link}")
    finally:
        stop(fake)


def test_ros2_launch_drives_the_xarm_over_its_controller_protocol(launch, node, tmp_path):
    """`ros2 launch ... robot:=xarm7 sim:=none driver:=xarm robot_ip:=HOST` against `polyarm fake-robot` (TCP 502:
    root, as CI runs)."""
    from conftest import can_serve_port, private_loopback, start_fake_robot

    pytest.importorskip("xarm")
    if not can_serve_port(502):
        pytest.skip("the xArm SDK dials port 502, which needs root here")
    host = private_loopback()
    fake = start_fake_robot(tmp_path / "fake_xarm.log", "xarm7", "--host", host, ready="xArm controller for the")
    try:
        reach_a_target_through_a_real_arm_graph(launch, node, "robot:=xarm7", "driver:=xarm", f"robot_ip:={host}")
    finally:
        stop(fake)


def test_a_bad_launch_argument_is_named_without_a_traceback(launch):
    graph = launch("robot:=panda", "seed:=x")
    graph.wait(60.0)
    log = graph.log()
    assert graph.proc.returncode != 0 and "seed:=x must be an integer" in log and "Traceback" not in log, log
