"""The whole graph as separate processes: the bringup description, `polyarm up`, `polyarm eval` over ROS."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from conftest import REPO, Collector, spin_until
from polyarm_bringup.bringup import Bringup, describe, launch_arguments
from polyarm_core.options import described
from workspace import package_dirs

STARTUP_S = 60.0


def declared_parameters(executable: str) -> set[str]:
    """The parameters each node declares, read from the node code itself, and rclpy's use_sim_time."""
    return {"use_sim_time"} | _own_parameters(executable)


def _own_parameters(executable: str) -> set[str]:
    if executable == "sim":
        from sim_bridge.main import PARAMETERS
    elif executable == "policy":
        from policy_server.node import PARAMETERS
    elif executable == "record":
        from polyarm_data.recorder import PARAMETERS
    elif executable == "driver":
        from polyarm_drivers.node import PARAMETERS
        from polyarm_drivers.xarm_driver import XArmConfig

        return set(PARAMETERS) | set(described(XArmConfig))
    elif executable == "perception":
        from polyarm_perception.node import PARAMETERS
    elif executable == "camera":
        from polyarm_cameras.node import PARAMETERS
        from polyarm_cameras.realsense import RealSenseConfig

        return set(PARAMETERS) | set(described(RealSenseConfig)) | {"camera_info_file"}
    else:
        from polyarm_control.config import DEFAULTS, flatten

        return {"robot"} | set(flatten(DEFAULTS["panda"]))
    return set(PARAMETERS)


PICK_STATE = str(REPO / "demo" / "panda_pick_state.pt")


@pytest.mark.parametrize("bringup, expected", [
    (Bringup(robot="panda", checkpoint=str(REPO / "demo" / "panda_press_button.pt"), task="press_button", record="/tmp/bag"),
     {"sim", "controller", "policy", "recorder"}),
    (Bringup(robot="wx250s", sim="none", camera=False, namespace="arm"), {"controller"}),
    (Bringup(robot="panda", checkpoint=PICK_STATE, task="pick", perception=True), {"sim", "perception", "controller", "policy"}),
    (Bringup(robot="xarm7", sim="none", driver="xarm", robot_ip="192.168.1.200", camera_backend="realsense", perception=True,
             camera_pose="/lab/camera_pose.yaml", checkpoint=PICK_STATE, task="pick"),
     {"driver", "camera", "perception", "controller", "policy"}),
    (Bringup(robot="panda", sim="pybullet", checkpoint=PICK_STATE, task="pick"), {"sim", "controller", "policy"}),
], ids=["panda-sim-policy-recorder", "wx250s-driver", "panda-sim-perception", "xarm7-realsense-perception", "panda-pybullet-policy"])
def test_the_launch_description_names_existing_nodes_and_parameter_files(bringup, expected):
    nodes = describe(bringup)
    assert {n.name for n in nodes} == expected
    for node in nodes:
        setup = package_dirs()[node.package] / "setup.py"
        assert f'"{node.executable} = ' in setup.read_text(), f"{node.package} has no console script {node.executable}"
        from_file = yaml.safe_load(node.params_file.read_text())["/**"]["ros__parameters"]
        declared = declared_parameters(node.executable)
        assert set(from_file) <= declared and set(node.parameters) <= declared, (node.name, set(from_file) | set(node.parameters) - declared)
        kwargs = launch_arguments(node, bringup.namespace)
        assert kwargs["parameters"][0] == str(node.params_file) and kwargs["namespace"] == bringup.namespace
    # in sim every node runs on the sim's /clock; with the arm's driver, on the wall clock
    assert all(n.parameters.get("use_sim_time", False) == (bringup.sim != "none") for n in nodes)
    if bringup.sim != "none":  # the sim node runs the bringup's engine
        assert next(n for n in nodes if n.name == "sim").parameters["backend"] == bringup.sim
    if bringup.checkpoint and not bringup.perception:  # the sim camera matches the one the checkpoint's data was recorded with
        sim = next(n for n in nodes if n.name == "sim")
        assert (sim.parameters["camera.width"], sim.parameters["camera.height"]) == (160, 120)
    if bringup.perception:  # the policy reads perception; perception sees through the sim camera, or the hand-eye file
        policy = next(n for n in nodes if n.name == "policy")
        perception = next(n for n in nodes if n.name == "perception")
        assert policy.parameters["object_pose_topic"] == "perception/object_pose"
        if bringup.sim != "none":
            sim = next(n for n in nodes if n.name == "sim")
            view = {k: v for k, v in sim.parameters.items() if k in ("camera.position", "camera.look_at")}
            assert view and view == {k: perception.parameters[k] for k in view}
        else:
            assert perception.parameters["camera_pose_file"] == "/lab/camera_pose.yaml"
    # the launch file builds its nodes from the same description
    tree = ast.parse((package_dirs()["polyarm_bringup"] / "launch" / "polyarm.launch.py").read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert {"describe", "launch_arguments", "Bringup", "generate_launch_description"} <= names | {
        f.name for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}


def test_perception_is_refused_where_it_cannot_work():
    with pytest.raises(ValueError, match="perception serves state-based checkpoints; this one reads images"):
        describe(Bringup(robot="panda", checkpoint=str(REPO / "demo" / "panda_press_button.pt"), task="press_button", perception=True))
    with pytest.raises(ValueError, match="needs the camera's pose: camera_pose:=FILE"):
        Bringup(robot="panda", sim="none", driver="franky", robot_ip="172.16.0.2", perception=True)
    with pytest.raises(ValueError, match="perception needs the sim camera"):
        Bringup(robot="panda", camera=False, perception=True)


def test_an_unknown_robot_or_sim_is_refused():
    with pytest.raises(ValueError, match="unknown robot 'ur5'"):
        Bringup(robot="ur5")
    with pytest.raises(ValueError, match="unknown sim 'gazebo'"):
        Bringup(sim="gazebo")


@pytest.mark.ros
@pytest.mark.parametrize("sim", ["mujoco", "pybullet"])
def test_polyarm_eval_runs_reach_through_every_process_and_leaves_a_readable_bag(reach_bc_run, tmp_path, sim):
    """The MuJoCo-trained checkpoint through the graph on either engine (pybullet: the sim-to-sim check in ROS)."""
    out = tmp_path / "eval"
    done = subprocess.run([sys.executable, "-m", "polyarm.cli", "eval", "--robot", "panda", "--task", "reach", "--sim", sim,
                           "--checkpoint", str(reach_bc_run / "best.pt"), "--episodes", "3", "--no-camera", "--out", str(out)],
                          capture_output=True, text=True, timeout=240, cwd=REPO, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["episodes"] == 3 and summary["successes"] == 3, done.stdout
    assert 1.8 <= summary["policy_rate_hz"] <= 2.2 and 90 <= summary["controller_rate_hz"] <= 101  # rates: bench_graph
    assert summary["controller_period_ms"]["p50"] == pytest.approx(10.0, abs=0.5)
    assert 0 < summary["observation_to_command_ms"]["mean"] < 300
    assert "success          3/3 = 100.0%" in done.stdout

    from polyarm_data.recording import read_messages

    counts: dict[str, int] = {}
    for topic, _, message in read_messages(out / "bag"):
        counts[topic] = counts.get(topic, 0) + 1
        if topic == "/controller/target_pose":
            assert np.isfinite([message.pose.position.x, message.pose.position.y, message.pose.position.z]).all()
    commands = sum(e["commands"] for e in summary["per_episode"])
    assert counts["/controller/target_pose"] >= commands >= 3
    assert counts["/joint_states"] > 100 and counts["/sim/success"] > 100 and counts["/rosout"] > 0
    assert "shutting down; the controller holds" in (out / "logs" / "policy.log").read_text()


@pytest.mark.ros
def test_killing_the_policy_mid_episode_leaves_the_controller_holding_and_the_arm_still(reach_bc_run, node, tmp_path):
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import PoseStamped
    from polyarm_bringup.supervisor import Graph, NodeExited
    from polyarm_common.qos import COMMAND, STATE
    from sensor_msgs.msg import JointState
    from std_srvs.srv import Trigger

    graph = Graph(describe(Bringup(camera=False, checkpoint=str(reach_bc_run / "best.pt"), task="reach", seed=5)),
                  log_dir=tmp_path / "logs")
    graph.start()
    try:
        targets = Collector(node, PoseStamped, "controller/target_pose", COMMAND)
        states = Collector(node, JointState, "joint_states", STATE)
        diagnostics = Collector(node, DiagnosticArray, "/diagnostics", STATE)
        start = node.create_client(Trigger, "policy/start")
        spin_until(node, lambda: start.service_is_ready() and states.last is not None, STARTUP_S, "the graph")
        start.call_async(Trigger.Request())
        spin_until(node, lambda: len(targets.messages) >= 2, 10.0, "two policy commands")
        os.kill(graph.pid("policy"), signal.SIGKILL)  # mid-reach: no goodbye
        with pytest.raises(NodeExited, match="policy .* exited with signal SIGKILL"):
            spin_until(node, lambda: graph.check() and False, 5.0, "the supervisor to see the dead policy")

        def controller_status():
            for array in reversed(diagnostics.messages):
                for status in array.status:
                    if status.name.startswith("controller"):
                        return {kv.key: kv.value for kv in status.values}
            return {}

        # the controller times the missing targets out (target_timeout 2 s) and holds; only a status sent
        # after the kill counts (the one from before the first target also reads "hold: no target yet")
        diagnostics.clear()
        spin_until(node, lambda: controller_status().get("status", "").startswith("hold: no target for"), 6.0,
                   "the controller to hold")
        states.clear()
        spin_until(node, lambda: len(states.messages) >= 200, 5.0, "1 s of joint_states")
        positions = np.array([m.position for m in states.messages])
        velocities = np.array([m.velocity for m in states.messages])
        assert np.ptp(positions[:, :7], axis=0).max() < 1e-3, "the arm moved after the policy died"
        assert np.abs(velocities[:, :7]).max() < 0.01
    finally:
        codes = graph.stop()
    assert codes["controller"] in (0, -signal.SIGINT) and codes["sim"] in (0, -signal.SIGINT)
    assert not graph.params_dir.exists(), "the parameter override files outlived the graph"


@pytest.mark.ros
def test_polyarm_up_stops_in_order_on_sigterm_and_closes_the_bag(reach_bc_run, tmp_path):
    bag = tmp_path / "bag"
    up = subprocess.Popen([sys.executable, "-m", "polyarm.cli", "up", "--no-camera", "--task", "reach",
                           "--checkpoint", str(reach_bc_run / "best.pt"), "--record", str(bag), "--log-dir", str(tmp_path / "logs")],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
    def up_and_running(name: str, line: str) -> bool:
        log = tmp_path / "logs" / f"{name}.log"
        return log.exists() and line in log.read_text()

    deadline = time.monotonic() + STARTUP_S  # the policy takes longest (torch and the checkpoint)
    while time.monotonic() < deadline and not (up_and_running("recorder", "recording to") and
                                               up_and_running("policy", "waiting for policy/start")):
        time.sleep(0.2)
    time.sleep(3.0)  # a few seconds of traffic
    up.send_signal(signal.SIGTERM)
    output, _ = up.communicate(timeout=60)
    assert up.returncode == 0, output
    logs = {name: (tmp_path / "logs" / f"{name}.log").read_text() for name in ("policy", "recorder", "controller", "sim")}
    assert "shutting down; the controller holds" in logs["policy"], logs["policy"]
    assert "closed" in logs["recorder"]
    # the recorder was still recording when the policy asked for the hold: the order held
    from polyarm_data.recording import read_messages

    topics = {topic for topic, _, _ in read_messages(bag)}
    assert {"/joint_states", "/controller/ee_pose", "/diagnostics"} <= topics
