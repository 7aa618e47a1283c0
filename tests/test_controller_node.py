"""The controller in its own process against the sim bridge in another, driven from this one.

The sim stamps joint_states with simulated time (use_sim_time) and the tests wait in it (Arm.wait):
what the arm does in 0.5 s then does not depend on how busy the host is. The controller runs on the
wall clock, as it does on the robot (it times joint_states by their arrival, not their stamps).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import Collector, call_service, set_parameters, spin_until
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, WrenchStamped
from polyarm_common import conversions as conv
from polyarm_common.qos import COMMAND, STATE
from polyarm_control.dynamics import RobotDynamics
from polyarm_control.osc import task_space_inertia
from polyarm_core.rotations import angle_between, from_rotation_vector, matrix_to_quat, quat_to_matrix
from polyarm_description import ROBOTS, get_robot, joint_limits, load_model
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_srvs.srv import Trigger

pytestmark = pytest.mark.ros


class Arm:
    """The graph as the test sees it: ee_pose, joint_states, commands and diagnostics, and a target publisher."""

    def __init__(self, node, robot: str):
        self.node, self.robot = node, get_robot(robot)
        self.ee = Collector(node, PoseStamped, "controller/ee_pose", STATE)
        self.states = Collector(node, JointState, "joint_states", STATE)
        self.commands = Collector(node, JointState, "joint_commands", STATE)
        self.diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
        self.target_pub = node.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
        spin_until(node, lambda: len(self.ee.messages) > 20, 40, "controller/ee_pose from the controller")
        spin_until(node, lambda: len(self.states.messages) > 5, 20, "joint_states from the sim")
        spin_until(node, lambda: self.target_pub.get_subscription_count() > 0, 10, "the controller's target subscription")

    def arm_rows(self) -> list[int]:
        """Where the arm's joints are in joint_states (which also carries the fingers)."""
        return [self.states.last.name.index(j) for j in self.robot.arm_joints]

    def sim_time(self) -> float:
        return conv.seconds(self.states.last.header.stamp)

    def wait(self, seconds: float) -> None:
        """Spin for `seconds` of sim time (the sim stamps joint_states with it)."""
        end = self.sim_time() + seconds
        spin_until(self.node, lambda: self.sim_time() >= end, 15 + 20 * seconds, f"{seconds:g} s of sim time")

    def comes_to_rest(self, within: float, speed: float = 0.01, settled: float = 0.2) -> bool:
        """Whether, within `within` s of sim time, every arm joint stays below `speed` rad/s for
        `settled` s (one slow sample can be the turning point of an oscillation)."""
        end = self.sim_time() + within
        rows = self.arm_rows()
        still_since = None  # sim time the current slow run began

        def at_rest() -> bool:
            nonlocal still_since
            if max(abs(self.states.last.velocity[i]) for i in rows) >= speed:
                still_since = None
            elif still_since is None:
                still_since = self.sim_time()
            return still_since is not None and self.sim_time() - still_since >= settled

        spin_until(self.node, lambda: at_rest() or self.sim_time() >= end, 15 + 20 * within, f"{within:g} s of sim time")
        return at_rest()

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        p, o = self.ee.last.pose.position, self.ee.last.pose.orientation
        return np.array([p.x, p.y, p.z]), quat_to_matrix([o.x, o.y, o.z, o.w])

    def send(self, position, rotation, frame_id="base_link") -> None:
        q = matrix_to_quat(rotation) if rotation is not None else [0.0, 0.0, 0.0, 1.0]
        self.target_pub.publish(conv.pose_stamped(position, q, frame_id, self.node.get_clock().now().to_msg()))

    def controller_status(self) -> dict:
        for array in reversed(self.diagnostics.messages):
            for status in array.status:
                if status.name.startswith("controller"):
                    return {kv.key: kv.value for kv in status.values}
        return {}

    def call(self, service: str) -> None:
        client = self.node.create_client(Trigger, service)
        assert client.wait_for_service(timeout_sec=10), service
        response = call_service(self.node, client, Trigger.Request(), 10)
        assert response is not None and response.success, service

    def assert_every_command_was_safe(self) -> None:
        """No published command ever held NaN or went beyond a limit."""
        lim = joint_limits(load_model(self.robot), self.robot)
        assert self.commands.messages, "the controller published no commands"
        previous, previous_stamp = None, None
        for msg in self.commands.messages:
            assert list(msg.name) == list(self.robot.arm_joints)
            if self.robot.command_interface == "effort":
                tau = np.array(msg.effort)
                assert np.all(np.isfinite(tau)) and np.all(np.abs(tau) <= lim.effort + 1e-9)
            else:
                q, stamp = np.array(msg.position), conv.seconds(msg.header.stamp)
                assert np.all(np.isfinite(q)) and np.all((q >= lim.lower) & (q <= lim.upper))
                if previous is not None:  # at most one velocity-limited step per 10 ms tick
                    ticks = max(1, round((stamp - previous_stamp) / 0.01))  # >1 where this subscription dropped one
                    assert np.all(np.abs(q - previous) <= ticks * lim.velocity * 0.01 + 1e-9), f"{ticks} tick(s)"
                previous, previous_stamp = q, stamp


@pytest.fixture
def arm_graph(node, start_node):
    """Start sim + controller for a robot and yield the Arm; every command is checked at the end."""
    arms = []

    def start(robot: str, *controller_args: str, sim_args=("--no-camera",)) -> Arm:
        start_node("sim", "--robot", robot, *sim_args, "--ros-args", "-p", "use_sim_time:=true")
        start_node("controller", "--robot", robot, *controller_args)
        arm = Arm(node, robot)
        arms.append(arm)
        return arm

    yield start
    for arm in arms:
        arm.assert_every_command_was_safe()


def step_target(arm: Arm):
    p0, R0 = arm.pose()
    return p0 + np.array([0.03, 0.03, -0.028]), from_rotation_vector(math.radians(15) * np.array([0.0, 0.0, 1.0])) @ R0


@pytest.mark.parametrize("robot, backend", [(r, "mujoco") for r in sorted(ROBOTS)] + [("panda", "pybullet"), ("xarm7", "pybullet")])
def test_step_response_converges_without_overshoot(node, arm_graph, robot, backend):
    arm = arm_graph(robot, sim_args=("--no-camera", "--backend", backend))
    start = arm.pose()[0]
    target_p, target_R = step_target(arm)  # 5 cm and 15 degrees
    arm.ee.clear()
    arm.send(target_p, target_R)
    arm.wait(1.5)
    p, R = arm.pose()
    assert np.linalg.norm(p - target_p) < 3e-3, f"{robot} in {backend}: {1e3 * np.linalg.norm(p - target_p):.2f} mm at 1.5 s"
    if robot != "wx250":  # 5 DoF: position only
        assert math.degrees(angle_between(R, target_R)) < 1.0
    step = target_p - start
    progress = [np.dot(np.array([m.pose.position.x, m.pose.position.y, m.pose.position.z]) - start, step) / step.dot(step)
                for m in arm.ee.messages]
    assert max(progress) < 1.15, f"overshoot {100 * (max(progress) - 1):.1f}%"


def set_gains(node, **gains) -> None:
    client = node.create_client(SetParameters, "controller/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    results = set_parameters(node, client, [Parameter(f"gains.{k}", value=v) for k, v in gains.items()], 10)
    assert results and all(r.successful for r in results), results


def push(node, force) -> None:
    pub = node.create_publisher(WrenchStamped, "sim/tcp_wrench", COMMAND)
    spin_until(node, lambda: pub.get_subscription_count() > 0, 10, "sim/tcp_wrench subscriber")
    msg = WrenchStamped()
    msg.header.frame_id = "base_link"
    msg.wrench.force.x, msg.wrench.force.y, msg.wrench.force.z = map(float, force)
    pub.publish(msg)


def settle(arm: Arm, target_p, target_R, seconds: float) -> None:
    """Keep the target fresh at 2 Hz, as a policy would, for `seconds`."""
    for _ in range(int(seconds * 2)):
        arm.send(target_p, target_R)
        arm.wait(0.5)


def test_panda_compliance_matches_impedance_and_osc_stiffness(node, arm_graph):
    arm = arm_graph("panda", "--mode", "impedance")
    target_p, target_R = arm.pose()
    force = np.array([0.0, 10.0, 0.0])

    set_gains(node, stiffness_position=600.0)
    push(node, force)
    settle(arm, target_p, target_R, 2.5)
    displacement = arm.pose()[0] - target_p
    expected = force / 600.0  # F / K
    assert np.linalg.norm(displacement - expected) < 0.2 * np.linalg.norm(expected), displacement

    push(node, [0, 0, 0])
    settle(arm, target_p, target_R, 2.0)
    assert np.linalg.norm(arm.pose()[0] - target_p) < 3e-3, "back on target once the push is gone"

    set_gains(node, mode="osc", stiffness_position=150.0, stiffness_orientation=150.0)
    push(node, force)
    settle(arm, target_p, target_R, 2.5)
    displacement = arm.pose()[0] - target_p
    # what the law predicts: e = (Lambda Kp)^-1 F at the arm's current configuration
    panda = get_robot("panda")
    q = np.array(arm.states.last.position)[arm.arm_rows()]
    state = RobotDynamics(panda).state(q, np.zeros(7))
    Lambda = task_space_inertia(state.J, np.linalg.inv(state.M), 0.01)
    predicted = np.linalg.solve(Lambda * np.array([150.0] * 6), np.concatenate([force, np.zeros(3)]))[:3]
    assert np.linalg.norm(displacement - predicted) < 0.2 * np.linalg.norm(predicted), (displacement, predicted)
    push(node, [0, 0, 0])
    settle(arm, target_p, target_R, 2.0)
    assert np.linalg.norm(arm.pose()[0] - target_p) < 3e-3


@pytest.mark.parametrize("robot", ["xarm7", "panda"])
def test_stale_joint_states_make_the_controller_hold(node, arm_graph, robot):
    relay = node.create_publisher(JointState, "relay/joint_states", STATE)  # the controller listens here
    relaying = [True]

    def forward(msg):
        if relaying[0]:
            relay.publish(msg)

    node.create_subscription(JointState, "joint_states", forward, STATE)
    arm = arm_graph(robot, "--ros-args", "-r", "joint_states:=relay/joint_states")
    spin_until(node, lambda: "running" in arm.controller_status().get("status", "") or
               "no target" in arm.controller_status().get("status", ""), 15, "the controller to see joint_states")
    target_p, target_R = step_target(arm)
    arm.send(target_p, target_R)
    arm.wait(0.3)  # mid-motion
    relaying[0] = False
    assert arm.comes_to_rest(within=1.5), "the arm stops once joint_states go stale"
    rows = arm.arm_rows()
    q_after_stop = np.array(arm.states.last.position)[rows]
    arm.wait(1.5)
    q_later = np.array(arm.states.last.position)[rows]
    assert np.abs(q_later - q_after_stop).max() < 2e-3, "the arm holds still"
    spin_until(node, lambda: "joint_states stale" in arm.controller_status().get("status", ""), 3, "stale status")
    if robot == "panda":
        n = len(arm.commands.messages)
        arm.wait(0.3)
        assert len(arm.commands.messages) == n, "no torque is sent without fresh joint_states"


def test_estop_stops_and_resume_continues_from_the_measured_pose(node, arm_graph):
    arm = arm_graph("panda")
    target_p, target_R = step_target(arm)
    arm.send(target_p, target_R)
    arm.wait(0.35)
    arm.call("controller/stop")
    assert arm.comes_to_rest(within=0.7), "the e-stop stops the arm within 0.5 s"
    stopped_at = arm.pose()[0]
    arm.send(target_p + 0.05, target_R)  # ignored while stopped
    arm.wait(1.0)
    assert np.linalg.norm(arm.pose()[0] - stopped_at) < 2e-3
    assert arm.controller_status()["mode"] == "stopped"
    arm.call("controller/resume")
    arm.wait(0.5)
    assert np.linalg.norm(arm.pose()[0] - stopped_at) < 2e-3, "resume: no jump"
    arm.send(target_p, target_R)
    arm.wait(1.5)
    assert np.linalg.norm(arm.pose()[0] - target_p) < 3e-3


def test_bad_targets_are_rejected_or_clipped(node, arm_graph, start_node):
    arm = arm_graph("panda")
    p0, R0 = arm.pose()
    arm.send([math.nan, p0[1], p0[2]], R0)
    arm.wait(0.3)  # targets are keep-last-1: let each arrive before the next
    arm.send(p0 + 0.05, R0, frame_id="camera_color_optical_frame")
    arm.wait(1.0)
    assert np.linalg.norm(arm.pose()[0] - p0) < 1e-3, "the arm keeps its pose"
    spin_until(node, lambda: int(arm.controller_status().get("rejected_targets", 0)) >= 2, 3, "rejections counted")
    far = np.array([p0[0], 0.9, p0[2]])  # beyond the workspace box (|y| <= 0.45)
    settle(arm, far, R0, 4.0)  # 0.45 m at the reference's speed takes ~2 s; a starved sim reads stale, and holds
    assert abs(arm.pose()[0][1] - 0.45) < 5e-3, "clipped to the box edge"


def test_hold_service_keeps_the_pose_and_ignores_targets(node, arm_graph):
    arm = arm_graph("xarm7")
    p0, R0 = arm.pose()
    arm.call("controller/hold")
    arm.send(p0 + np.array([0.05, 0, 0]), R0)
    arm.wait(1.0)
    assert np.linalg.norm(arm.pose()[0] - p0) < 1e-3
    arm.call("controller/resume")
    arm.send(p0 + np.array([0.05, 0, 0]), R0)
    arm.wait(1.5)
    assert np.linalg.norm(arm.pose()[0] - (p0 + np.array([0.05, 0, 0]))) < 3e-3


def test_unknown_gain_values_are_refused_at_run_time(node, arm_graph):
    arm_graph("wx250s")
    client = node.create_client(SetParameters, "controller/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    result = set_parameters(node, client, [Parameter("gains.mode", value="pid")], 10)[0]
    assert not result.successful and "valid modes" in result.reason


@pytest.mark.parametrize("args, expected", [
    (["--robot", "ur5"], "invalid choice: 'ur5'"),
    (["--ros-args", "-p", "robot:=ur5"], "valid robots: panda, wx250, wx250s, xarm7"),
    (["--robot", "panda", "--ros-args", "-p", "gains.mode:=pid"], "valid modes: osc, impedance"),
])
def test_controller_refuses_unknown_robots_and_modes_with_the_choices(args, expected):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "controller", *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and expected in done.stderr, done.stderr
