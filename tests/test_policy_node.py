"""The policy node in its own process: recorded observations published from this one, targets heard here."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import Collector, set_parameters, spin_for, spin_until
from geometry_msgs.msg import PoseStamped
from policy_server.checkpoint import load, new_checkpoint, save
from policy_server.models import Architecture
from policy_server.runtime import Policy
from polyarm_common import conversions as conv
from polyarm_common.qos import COMMAND, SENSOR, STATE
from polyarm_control.config import default_config
from polyarm_core.policy_io import ActionAdapter, ObservationAdapter
from polyarm_core.rotations import matrix_to_quat, quat_to_matrix
from rcl_interfaces.srv import SetParameters
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Float64
from std_srvs.srv import Trigger

pytestmark = pytest.mark.ros
POSE = (np.array([0.45, 0.05, 0.3]), np.array([1.0, 0.0, 0.0, 0.0]))  # TCP pointing down
NEUTRAL_Q = (1.0, 0.0, 0.0, 0.0)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    arch = Architecture(channels=(8, 8, 8), hidden=(64, 64))
    save(new_checkpoint("bc", arch, ["pick"], seed=4, neutral_quaternion=NEUTRAL_Q), folder / "bc.pt")
    nan = new_checkpoint("bc", arch, ["pick"], seed=4, neutral_quaternion=NEUTRAL_Q)
    nan["state_dicts"]["policy"] = {k: torch.full_like(v, float("nan")) for k, v in nan["state_dicts"]["policy"].items()}
    save(nan, folder / "nan.pt")
    (folder / "corrupt.pt").write_bytes(b"PK\x03\x04 truncated")
    return folder


class RecordedObservations:
    """A fixed recorded frame, TCP pose and gripper state, re-stamped and published as a live robot would."""

    def __init__(self, node):
        rng = np.random.default_rng(7)
        self.frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
        self.node = node
        self.image = node.create_publisher(Image, "camera/color/image_raw", SENSOR)
        self.pose = node.create_publisher(PoseStamped, "controller/ee_pose", STATE)
        self.joints = node.create_publisher(JointState, "joint_states", STATE)
        self.publishing = True
        node.create_timer(1 / 15, self._publish_image)
        node.create_timer(1 / 100, self._publish_state)

    def _publish_image(self):
        if self.publishing:
            self.image.publish(conv.image(self.frame, "rgb8", "camera_color_optical_frame", self.node.get_clock().now().to_msg()))

    def _publish_state(self):
        stamp = self.node.get_clock().now().to_msg()
        self.pose.publish(conv.pose_stamped(POSE[0], POSE[1], "base_link", stamp))
        self.joints.publish(conv.joint_state(["panda_finger_joint1", "panda_finger_joint2"], [0.04, 0.04], [0, 0], [0, 0], stamp))

    def expected_target(self, checkpoint_path):
        """The model called directly on this observation, through the same adapters."""
        checkpoint = load(checkpoint_path)
        observe = ObservationAdapter(checkpoint["observation"]["image_size"], NEUTRAL_Q)
        action = Policy(checkpoint)(observe.image(self.frame), observe.state(POSE[0], POSE[1], 1.0))
        config = default_config("panda")
        act = ActionAdapter(0.05, 0.2, config.workspace_low, config.workspace_high)
        return act.command(action, POSE[0], quat_to_matrix(POSE[1]))


def start_policy(start_node, checkpoint, *extra):
    return start_node("policy", "--checkpoint", str(checkpoint), "--robot", "panda", "--start", *extra)


def targets(node):
    return Collector(node, PoseStamped, "controller/target_pose", COMMAND)


def test_targets_come_at_2_hz_and_equal_the_model_on_the_same_observation(node, start_node, checkpoints):
    recorded = RecordedObservations(node)
    heard = targets(node)
    grippers = Collector(node, Float64, "gripper/command", COMMAND)
    start_policy(start_node, checkpoints / "bc.pt")
    spin_until(node, lambda: len(heard.messages) >= 3, 60, "targets")
    heard.clear()
    spin_until(node, lambda: len(heard.messages) >= 21, 30, "21 targets")
    stamps = np.array([conv.seconds(m.header.stamp) for m in heard.messages])
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0])
    assert abs(rate - 2.0) <= 0.02, f"{rate:.4f} Hz"
    expected = recorded.expected_target(checkpoints / "bc.pt")
    for msg in heard.messages:
        p, o = msg.pose.position, msg.pose.orientation
        assert np.allclose([p.x, p.y, p.z], expected.position, atol=1e-6)
        assert np.allclose(np.abs(np.dot([o.x, o.y, o.z, o.w], matrix_to_quat(expected.rotation))), 1.0, atol=1e-6)
    if expected.gripper is not None:
        assert grippers.messages and grippers.last.data == expected.gripper


def test_a_stale_observation_produces_no_command(node, start_node, checkpoints):
    recorded = RecordedObservations(node)
    heard = targets(node)
    start_policy(start_node, checkpoints / "bc.pt", "--ros-args", "-p", "max_observation_age:=0.3")
    spin_until(node, lambda: len(heard.messages) >= 2, 60, "targets")
    recorded.publishing = False  # the camera goes quiet
    spin_for(node, 0.8)  # at most one more target from a frame still fresh
    count = len(heard.messages)
    spin_for(node, 2.0)
    assert len(heard.messages) == count, "no targets from a stale frame"
    recorded.publishing = True
    spin_until(node, lambda: len(heard.messages) > count, 5, "targets again once frames are fresh")


def test_a_nan_model_asks_the_controller_to_hold_and_publishes_nothing(node, start_node, checkpoints):
    RecordedObservations(node)
    holds = []

    def on_hold(request, response):
        holds.append(request)
        response.success = True
        return response

    node.create_service(Trigger, "controller/hold", on_hold)
    heard = targets(node)
    policy = start_policy(start_node, checkpoints / "nan.pt")
    spin_until(node, lambda: len(holds) >= 2, 60, "controller/hold calls")
    assert not heard.messages
    assert "non-finite action" in policy.log()


def test_a_corrupt_or_mismatched_checkpoint_is_refused_and_the_old_model_keeps_running(node, start_node, checkpoints, tmp_path):
    RecordedObservations(node)
    heard = targets(node)
    start_policy(start_node, checkpoints / "bc.pt")
    spin_until(node, lambda: len(heard.messages) >= 2, 60, "targets")
    client = node.create_client(SetParameters, "policy/set_parameters")
    assert client.wait_for_service(timeout_sec=10)
    mismatched = new_checkpoint("cql", Architecture(num_tasks=2, conditioning="multihead"), ["a", "b"])
    save(mismatched, tmp_path / "two_tasks.pt")
    for path, reason in ((checkpoints / "corrupt.pt", "not a readable polyarm checkpoint"),
                         (tmp_path / "two_tasks.pt", "has 2 tasks; choose one")):
        result = set_parameters(node, client, [Parameter("checkpoint", value=str(path))], 30)[0]
        assert not result.successful and reason in result.reason
    count = len(heard.messages)
    spin_until(node, lambda: len(heard.messages) >= count + 2, 5, "targets from the old model")


def test_a_missing_checkpoint_exits_with_a_clear_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "policy", "--checkpoint", str(tmp_path / "none.pt")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "does not exist" in done.stderr


# Runs `polyarm policy` as is; at exit the process prints the top-level modules it had loaded.
LOADED_AT_EXIT = ("import atexit, sys; "
                  "atexit.register(lambda: print('LOADED', *sorted({m.split('.')[0] for m in sys.modules}), flush=True)); "
                  "from polyarm.cli import main; sys.exit(main(sys.argv[1:]))")


def test_the_policy_process_loads_neither_mujoco_nor_the_controller_nor_the_sim(node):
    from conftest import REPO

    demo = REPO / "demo" / "panda_press_button.pt"
    heard = targets(node)
    RecordedObservations(node)
    proc = subprocess.Popen([sys.executable, "-c", LOADED_AT_EXIT, "policy", "--checkpoint", str(demo), "--robot", "panda",
                             "--start"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        spin_until(node, lambda: len(heard.messages) >= 2, 60, "targets from the demo checkpoint")
    finally:
        proc.send_signal(subprocess.signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
    loaded = set(next(line for line in output.splitlines() if line.startswith("LOADED")).split()[1:])
    assert {"policy_server", "polyarm_core", "torch", "rclpy"} <= loaded  # it did run the policy
    assert not loaded & {"mujoco", "polyarm_control", "sim_bridge", "polyarm_learning", "polyarm_data", "gymnasium"}, loaded
