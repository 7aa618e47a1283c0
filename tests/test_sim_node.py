"""The sim node in its own process, seen through ROS 2 from this one."""

from __future__ import annotations

import math
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import Collector, call_service, set_parameters, spin_for, spin_until
from diagnostic_msgs.msg import DiagnosticArray
from polyarm_common.conversions import image_to_array, seconds
from polyarm_common.qos import COMMAND, SENSOR, STATE
from polyarm_description import get_robot
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from sim_bridge.camera import CameraConfig
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

pytestmark = pytest.mark.ros
STARTUP_S = 30.0


def wait_for_states(node, sim, timeout=STARTUP_S) -> Collector:
    states = Collector(node, JointState, "joint_states", STATE)
    try:
        spin_until(node, lambda: len(states.messages) > 5, timeout, "joint_states from the sim")
    except TimeoutError:
        raise AssertionError(f"no joint_states; sim log:\n{sim.log()}") from None
    return states


def command_publisher(node, topic="joint_commands", msg_type=JointState):
    pub = node.create_publisher(msg_type, topic, COMMAND)
    spin_until(node, lambda: pub.get_subscription_count() > 0, 10, f"the sim to subscribe to {topic}")
    return pub


def publish_until(node, pub, msg, predicate, timeout: float, what: str, period: float = 0.1) -> None:
    """Send `msg` every `period` s, as a commander does, until predicate() holds. A message sent once can be
    lost: the writer may see the sim's reader before that reader has matched the writer."""
    end = time.monotonic() + timeout
    while True:
        pub.publish(msg)
        try:
            return spin_until(node, predicate, max(0.0, min(period, end - time.monotonic())), what)
        except TimeoutError:
            if time.monotonic() >= end:
                raise TimeoutError(f"timed out after {timeout:.1f} s waiting for {what}") from None


def arm_positions(msg: JointState, joints) -> np.ndarray:
    index = {n: i for i, n in enumerate(msg.name)}
    return np.array([msg.position[index[j]] for j in joints])


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_panda_streams_joint_states_images_and_diagnostics(node, start_sim, backend):
    sim = start_sim("panda", "--backend", backend)
    states = wait_for_states(node, sim)
    color = Collector(node, Image, "camera/color/image_raw", SENSOR)
    depth = Collector(node, Image, "camera/aligned_depth_to_color/image_raw", SENSOR)
    info = Collector(node, CameraInfo, "camera/aligned_depth_to_color/camera_info", SENSOR)
    diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
    spin_until(node, lambda: depth.messages and info.messages and diagnostics.messages, 15, "camera and diagnostics")
    states.clear()
    spin_for(node, 2.0)
    times = np.array(states.times)
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 100.0, f"joint_states at {rate:.1f} Hz"
    panda = get_robot("panda")
    assert states.last.name == [*panda.arm_joints, *panda.finger_joints]
    assert len(states.last.position) == len(states.last.velocity) == len(states.last.effort) == 9

    rgb = image_to_array(color.last)
    assert rgb.shape == (240, 320, 3) and color.last.encoding == "rgb8"
    assert depth.last.encoding == "16UC1" and depth.last.header.frame_id == info.last.header.frame_id
    # depth at the principal point against the camera-to-table distance from the scene geometry
    K = np.array(info.last.k).reshape(3, 3)
    camera = CameraConfig.for_robot(get_robot("panda"))
    position, look_at = np.array(camera.position), np.array(camera.look_at)
    forward = (look_at - position) / np.linalg.norm(look_at - position)
    expected_m = -position[2] / forward[2]
    d = image_to_array(depth.last)
    u, v = int(K[0, 2]), int(K[1, 2])
    measured_m = d[v - 1 : v + 1, u - 1 : u + 1].mean() / 1000.0
    assert abs(measured_m - expected_m) < 0.01

    values = {kv.key: kv.value for kv in diagnostics.last.status[0].values}
    assert float(values["real_time_factor"]) > 0.5 and "render_ms_mean" in values
    assert diagnostics.last.status[0].name == f"sim: {backend}"


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_panda_effort_moves_with_the_torque_and_holds_still_without_it(node, start_sim, backend):
    sim = start_sim("panda", "--no-camera", "--backend", backend)
    states = wait_for_states(node, sim)
    panda = get_robot("panda")
    pub = command_publisher(node)

    def stream(torque, seconds):  # at 50 Hz: a torque command lapses after 0.1 s without a new one
        cmd = JointState(name=list(panda.arm_joints), effort=list(map(float, torque)))
        for _ in range(int(seconds * 50)):
            pub.publish(cmd)
            spin_for(node, 0.02)

    stream(np.zeros(7), 0.2)
    q0 = arm_positions(states.last, panda.arm_joints)
    stream(np.zeros(7), 1.0)
    drift = np.abs(arm_positions(states.last, panda.arm_joints) - q0).max()
    assert drift < 1e-3, f"zero torque: the arm drifted {drift:.2e} rad (gravity not compensated?)"

    torque = np.zeros(7)
    torque[0], torque[3] = 2.0, -1.5  # positive about joint 1, negative about joint 4
    start = arm_positions(states.last, panda.arm_joints)
    stream(torque, 0.3)
    moved = arm_positions(states.last, panda.arm_joints) - start
    assert moved[0] > 0.02 and moved[3] < -0.02, f"joint motion {moved}"
    assert torque @ moved > 0, "the torque does positive work (other joints move only by inertial coupling)"

    spin_for(node, 0.5)  # the torque stream has lapsed: the arm stops where it is
    q_rest = arm_positions(states.last, panda.arm_joints)
    spin_for(node, 0.5)
    assert np.abs(arm_positions(states.last, panda.arm_joints) - q_rest).max() < 2e-3
    assert np.abs(states.last.velocity[:7]).max() < 0.01


@pytest.mark.parametrize("name, backend", [("xarm7", "mujoco"), ("wx250s", "mujoco"), ("wx250", "mujoco"),
                                           ("xarm7", "pybullet"), ("wx250s", "pybullet")])
def test_position_command_reaches_target_within_one_degree(node, start_sim, name, backend):
    sim = start_sim(name, "--no-camera", "--backend", backend)
    states = wait_for_states(node, sim)
    robot = get_robot(name)
    home = arm_positions(states.last, robot.arm_joints)
    offsets = np.array([0.3, -0.2, 0.25, 0.2, -0.3, 0.25, 0.2])[: robot.dof]
    target = home + offsets
    pub = command_publisher(node)

    def reached():
        return np.degrees(np.abs(arm_positions(states.last, robot.arm_joints) - target)).max() < 1.0

    publish_until(node, pub, JointState(name=list(robot.arm_joints), position=target.tolist()), reached, 5.0, f"{name} to reach {target}")


def test_bad_commands_are_rejected_logged_and_the_arm_holds(node, start_sim):
    sim = start_sim("xarm7", "--no-camera")
    states = wait_for_states(node, sim)
    robot = get_robot("xarm7")
    home = arm_positions(states.last, robot.arm_joints)
    diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
    pub = command_publisher(node)
    bad = [
        JointState(name=["j1", "j2"], position=[0.1, 0.2]),  # wrong joint names
        JointState(name=list(robot.arm_joints), position=(home + 0.3)[:5].tolist()),  # wrong length
        JointState(name=list(robot.arm_joints), position=[math.nan, *(home + 0.3)[1:]]),  # NaN
        JointState(name=list(robot.arm_joints), effort=[1.0] * 7),  # the xArm takes positions
    ]
    for _ in range(3):  # a new publisher's first message can be lost: send the set again until all four count
        for msg in bad:
            pub.publish(msg)
            spin_for(node, 0.1)
        spin_for(node, 1.2)  # a diagnostics period
        if diagnostics.messages and _diag(diagnostics.last, "rejected_commands") >= 4:
            break
    assert np.abs(arm_positions(states.last, robot.arm_joints) - home).max() < 1e-3
    spin_until(node, lambda: diagnostics.messages and _diag(diagnostics.last, "rejected_commands") >= 4, 3, "rejections in diagnostics")
    log = sim.log()
    assert "joint_commands rejected" in log and "do not match" in log


def _diag(array: DiagnosticArray, key: str) -> float:
    return float({kv.key: kv.value for kv in array.status[0].values}[key])


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_gripper_closes_opens_and_reset_returns_home(node, start_sim, backend):
    sim = start_sim("wx250s", "--no-camera", "--backend", backend)
    states = wait_for_states(node, sim)
    robot = get_robot("wx250s")
    home = arm_positions(states.last, robot.arm_joints)
    gripper = command_publisher(node, "gripper/command", Float64)

    def finger():
        return states.last.position[states.last.name.index(robot.finger_joints[0])]

    publish_until(node, gripper, Float64(data=0.0), lambda: finger() < 0.016, 3, "the gripper to close")
    publish_until(node, gripper, Float64(data=1.0), lambda: finger() > 0.036, 3, "the gripper to open")

    joints = command_publisher(node)
    away = JointState(name=list(robot.arm_joints), position=(home + 0.2).tolist())
    publish_until(node, joints, away, lambda: np.abs(arm_positions(states.last, robot.arm_joints) - home).max() > 0.1, 3, "motion")
    client = node.create_client(Trigger, "sim/reset")
    assert client.wait_for_service(timeout_sec=10)
    response = call_service(node, client, Trigger.Request(), 10)
    assert response is not None and response.success
    spin_for(node, 0.2)
    assert np.abs(arm_positions(states.last, robot.arm_joints) - home).max() < 0.02


def test_fast_mode_runs_faster_than_real_time(node, start_sim):
    sim = start_sim("panda", "--no-camera", "--fast")
    states = wait_for_states(node, sim)
    states.clear()
    spin_for(node, 1.0)
    sim_span = seconds(states.messages[-1].header.stamp) - seconds(states.messages[0].header.stamp)
    wall_span = states.times[-1] - states.times[0]
    assert sim_span > 2.0 * wall_span


def test_on_sim_time_stamps_and_clock_count_simulated_seconds(node, start_sim):
    sim = start_sim("panda", "--no-camera", "--ros-args", "-p", "use_sim_time:=true")
    states = wait_for_states(node, sim)
    clock = Collector(node, Clock, "/clock", STATE)
    spin_until(node, lambda: len(clock.messages) > 50, 10, "/clock")
    state_stamps = np.array([seconds(m.header.stamp) for m in states.messages[-40:]])
    clock_stamps = np.array([seconds(m.clock) for m in clock.messages[-40:]])
    # exact steps of simulated time (wall-clock stamps would jitter): joint_states 200 Hz, /clock 100 Hz
    assert np.allclose(np.diff(state_stamps), 0.005, atol=2e-6), np.diff(state_stamps)
    assert np.allclose(np.diff(clock_stamps), 0.010, atol=2e-6), np.diff(clock_stamps)
    # /clock ticks on joint_states' simulated instants. Compared on the 5 ms grid, not as a subset of the
    # received stamps: this process may drop a joint_states message on a loaded host (depth 10 at 200 Hz).
    spin_until(node, lambda: seconds(states.last.header.stamp) >= clock_stamps[-1], 5, "joint_states to catch up")
    all_states = np.array([seconds(m.header.stamp) for m in states.messages])
    steps = (clock_stamps - all_states[0]) / 0.005
    assert np.allclose(steps, np.round(steps), atol=1e-3), steps
    assert all_states[0] <= clock_stamps[0] and clock_stamps[-1] <= all_states[-1]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--robot", "ur5"], ["invalid choice: 'ur5'", "panda", "wx250", "wx250s", "xarm7"]),
        (["--robot", "panda", "--bogus"], ["unrecognized arguments: --bogus", "--robot", "--fast"]),
        (["--no-camera", "--ros-args", "-p", "robot:=ur5"], ["valid robots: panda, wx250, wx250s, xarm7"]),
        (["--backend", "pybullet", "--no-camera", "--ros-args", "-p", "calibration.board:=table"], ["shows no calibration board"]),
    ],
)
def test_unknown_robot_or_option_exits_with_the_valid_choices(args, expected):
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "sim", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    for text in expected:
        assert text in done.stderr


@pytest.mark.parametrize("backend", ["mujoco", "pybullet"])
def test_sim_publishes_task_ground_truth_and_switches_task_on_reset(node, start_sim, backend):
    from geometry_msgs.msg import PoseStamped
    from polyarm_description import get_robot as robot_spec
    from rcl_interfaces.srv import SetParameters
    from rclpy.parameter import Parameter
    from sim_bridge.mujoco_sim import MujocoSim
    from sim_bridge.tasks import make_task
    from std_msgs.msg import Bool

    def placement(task: str, seed: int) -> np.ndarray:
        sim = MujocoSim(robot_spec("panda"), task=make_task(task, robot_spec("panda")))
        sim.reset(rng=np.random.default_rng(seed))
        return sim.task.object_pose(sim.model, sim.data)[0]

    # the placement is the task's, in either engine: MuJoCo's seeded placement is the reference
    sim = start_sim("panda", "--task", "press_button", "--seed", "2", "--camera-rate", "10", "--backend", backend)
    wait_for_states(node, sim)
    pose = Collector(node, PoseStamped, "sim/object_pose", STATE)
    success = Collector(node, Bool, "sim/success", STATE)
    images = Collector(node, Image, "camera/color/image_raw", SENSOR)
    states = Collector(node, JointState, "joint_states", STATE)
    spin_until(node, lambda: pose.messages and success.messages and images.messages and states.messages, 15, "ground truth and images")
    p = pose.last.pose.position
    assert np.allclose([p.x, p.y, p.z], placement("press_button", 2), atol=1e-6)
    assert success.last.data is False
    pose.clear()
    states.clear()
    spin_for(node, 0.5)
    # ground truth goes out with every physics step's joint_states (the rates are bench_sim's)
    assert len(states.messages) > 20 and len(pose.messages) >= 0.9 * len(states.messages)

    params = node.create_client(SetParameters, "sim/set_parameters")
    assert params.wait_for_service(timeout_sec=10)
    results = set_parameters(node, params, [Parameter("task", value="pick"), Parameter("seed", value=5)], 10)
    assert results and all(r.successful for r in results)
    reset = node.create_client(Trigger, "sim/reset")
    assert reset.wait_for_service(timeout_sec=10)
    call = call_service(node, reset, Trigger.Request(), 10)
    assert call is not None and call.success and "task pick, seed 5" in call.message
    images.clear()
    spin_for(node, 0.5)
    p = pose.last.pose.position
    assert np.allclose([p.x, p.y, p.z], placement("pick", 5), atol=2e-3)  # the block settles on the table
    # the camera thread builds a renderer for the new task's scene first (0.5 s or more on a slow machine)
    spin_until(node, lambda: len(images.messages) >= 2, 5, "the camera to render the new scene")

    results = set_parameters(node, params, [Parameter("task", value="juggle")], 10)
    assert results and results[0].successful  # the sim checks the task when it resets
    call = call_service(node, reset, Trigger.Request(), 10)
    assert call is not None and not call.success and "valid tasks" in call.message
