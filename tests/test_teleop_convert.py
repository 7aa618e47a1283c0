"""`polyarm convert`: recorded episodes into the dataset `polyarm train` reads.

Scripted episodes are recorded as the graph would record them (the 100 Hz controller's ee_pose and
joint_states, the 2 Hz targets and gripper commands, the sim's object pose and success, serialized to
CDR into one MCAP bag per episode by RecordingSession), then converted, and compared with what
`polyarm collect` writes for the same seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

SEEDS = [0, 1, 2]
TOPICS = {"controller/ee_pose": "geometry_msgs/msg/PoseStamped", "controller/target_pose": "geometry_msgs/msg/PoseStamped",
          "joint_states": "sensor_msgs/msg/JointState", "gripper/command": "std_msgs/msg/Float64",
          "sim/object_pose": "geometry_msgs/msg/PoseStamped", "sim/success": "std_msgs/msg/Bool"}


class Messages:
    """CDR bytes of the graph's messages (rosbags' Jazzy typestore)."""

    def __init__(self):
        from rosbags.typesys import Stores, get_typestore

        self.store = get_typestore(Stores.ROS2_JAZZY)
        self.T = self.store.types

    def _header(self, ns):
        T = self.T
        return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9),
                                        frame_id="base_link")

    def pose(self, ns, position, quaternion) -> bytes:
        T = self.T
        pose = T["geometry_msgs/msg/Pose"](position=T["geometry_msgs/msg/Point"](*map(float, position)),
                                           orientation=T["geometry_msgs/msg/Quaternion"](*map(float, quaternion)))
        return bytes(self.store.serialize_cdr(T["geometry_msgs/msg/PoseStamped"](self._header(ns), pose),
                                              "geometry_msgs/msg/PoseStamped"))

    def joints(self, ns, names, position) -> bytes:
        n = len(names)
        msg = self.T["sensor_msgs/msg/JointState"](self._header(ns), list(names), np.asarray(position, float),
                                                   np.zeros(n), np.zeros(n))
        return bytes(self.store.serialize_cdr(msg, "sensor_msgs/msg/JointState"))

    def scalar(self, kind, value) -> bytes:
        return bytes(self.store.serialize_cdr(self.T[kind](value), kind))


def record_scripted(out, task: str, seeds) -> None:
    """The scripted policy's episodes as `polyarm teleop --record` would hold them (state topics, no camera)."""
    from polyarm_core.rotations import matrix_to_quat
    from polyarm_teleop.session import RecordingSession
    from sim_bridge.envs import PolyarmEnv
    from sim_bridge.scripted import scripted_policy

    env = PolyarmEnv("panda", task, image_size=0)
    msgs = Messages()
    session = RecordingSession(out, "panda", task, TOPICS)

    def ns():
        return int(round(env.loop.time * 1e9))

    def publish_state(loop=None, _=None):
        t = ns()
        position, rotation = env.loop.tcp()
        session.write("controller/ee_pose", t, msgs.pose(t, position, matrix_to_quat(rotation)))
        state = env.loop.sim.joint_state()
        session.write("joint_states", t, msgs.joints(t, state.names, state.position))
        obj, q = env.task.object_pose(env.loop.sim.model, env.loop.sim.data)
        session.write("sim/object_pose", t, msgs.pose(t, obj, q))
        session.write("sim/success", t, msgs.scalar("std_msgs/msg/Bool", bool(env.loop.sim.success())))

    env.on_tick = publish_state
    for seed in seeds:
        policy = scripted_policy(task, env, np.random.default_rng(seed), 0.2, False)
        _, info = env.reset(seed=seed)
        session.handle("start", seed=seed)
        publish_state()
        success = False
        for _ in range(env.episode_length):
            action = policy(info)
            command = env.core.command(action, env.reading)  # what the policy node would publish
            session.write("controller/target_pose", ns(), msgs.pose(ns(), command.position, matrix_to_quat(command.rotation)))
            if command.gripper is not None:
                session.write("gripper/command", ns(), msgs.scalar("std_msgs/msg/Float64", command.gripper))
            _, _, _, _, info = env.step(action)
            success |= info["success"]
        session.handle("success" if success else "failure")
    env.close()


def test_converted_recordings_match_what_collect_writes_for_the_same_seeds(tmp_path):
    from minari.dataset.minari_storage import MinariStorage
    from polyarm_data.dataset import data_dir
    from polyarm_teleop.convert import main as convert
    from sim_bridge.collect import main as collect

    record_scripted(tmp_path / "demos", "reach", SEEDS)
    assert convert([str(tmp_path / "demos"), "--out", str(tmp_path / "converted"), "--image-size", "0", "--no-progress"]) == 0
    assert collect(["--robot", "panda", "--task", "reach", "--episodes", str(len(SEEDS)), "--out", str(tmp_path / "collected"),
                    "--image-size", "0"]) == 0
    converted, collected = (MinariStorage.read(data_dir(tmp_path / name)) for name in ("converted", "collected"))
    meta = converted.metadata["polyarm"]
    assert (meta["robot"], meta["task"], meta["source"]["converted_by"]) == ("panda", "reach", "polyarm convert")
    for a, b in zip(converted.get_episodes(range(len(SEEDS))), collected.get_episodes(range(len(SEEDS)))):
        assert len(a["actions"]) == len(b["actions"])
        np.testing.assert_allclose(a["observations"]["state"], b["observations"]["state"], atol=1e-5)
        np.testing.assert_allclose(a["observations"]["object_position"], b["observations"]["object_position"], atol=1e-5)
        raw = np.clip(b["actions"], -1, 1)
        np.testing.assert_allclose(a["actions"][:, :6], raw[:, :6], atol=1e-4)
        decided = np.abs(raw[:, 6]) > 0.5  # a gripper value in between leaves the gripper as it was
        np.testing.assert_array_equal(a["actions"][decided, 6], np.sign(raw[decided, 6]))
        np.testing.assert_array_equal(a["rewards"], b["rewards"])
        assert a["rewards"].sum() > 0, "the scripted reach succeeds"


def test_convert_names_an_episode_missing_a_topic_and_skips_unfinished_ones(tmp_path):
    import shutil

    from polyarm_teleop.convert import ConversionError, convert

    record_scripted(tmp_path / "demos", "reach", [0])
    partial = tmp_path / "demos" / "episode_0001"
    shutil.copytree(tmp_path / "demos" / "episode_0000", partial)
    (partial / "episode.json").unlink()  # a crashed episode: never ended
    converted = convert(tmp_path / "demos", tmp_path / "out", image_size=0, progress=False)
    assert converted["episodes"] == 1

    from polyarm_teleop.session import RecordingSession

    session = RecordingSession(tmp_path / "no_targets", "panda", "reach", {"joint_states": "sensor_msgs/msg/JointState"})
    session.handle("start", seed=0)
    session.handle("success")
    with pytest.raises(ConversionError, match="episode_0000: no controller/ee_pose, controller/target_pose, joint_states, "
                                              "sim/object_pose or perception/object_pose recorded"):
        convert(tmp_path / "no_targets", tmp_path / "out2", image_size=0, progress=False)
    info = json.loads((tmp_path / "demos" / "episode_0000" / "episode.json").read_text())
    assert info["robot"] == "panda" and info["label"] in ("success", "failure")


def test_a_recorded_camera_converts_to_policy_images_or_is_left_out_of_a_state_dataset(tmp_path):
    from minari.dataset.minari_storage import MinariStorage
    from polyarm_data.dataset import data_dir
    from polyarm_description import get_robot
    from polyarm_teleop.convert import convert
    from polyarm_teleop.session import RecordingSession

    msgs, robot = Messages(), get_robot("panda")
    topics = dict(TOPICS, **{"camera/color/image_raw": "sensor_msgs/msg/Image"})
    session = RecordingSession(tmp_path / "demos", "panda", "reach", topics, camera_rate_hz=15)
    session.handle("start", seed=0)
    names = list(robot.arm_joints) + list(robot.finger_joints)
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[:, 160:] = 200  # right half bright: after the centre crop to 240x240, the right half of the 48x48 image
    T = msgs.T
    for k in range(300):  # 3 s at 100 Hz
        ns = 10**9 + k * 10**7
        session.write("controller/ee_pose", ns, msgs.pose(ns, [0.4 + 0.01 * k / 100, 0, 0.3], [1, 0, 0, 0]))
        session.write("joint_states", ns, msgs.joints(ns, names, np.full(len(names), 0.02)))
        session.write("sim/object_pose", ns, msgs.pose(ns, [0.5, 0, 0.02], [0, 0, 0, 1]))
        if k % 5 == 0:
            session.write("controller/target_pose", ns, msgs.pose(ns, [0.41 + 0.01 * k / 100, 0, 0.3], [1, 0, 0, 0]))
        if k % 7 == 0:  # ~15 Hz
            image = T["sensor_msgs/msg/Image"](msgs._header(ns), 240, 320, "rgb8", 0, 960, frame.ravel())
            session.write("camera/color/image_raw", ns, bytes(msgs.store.serialize_cdr(image, "sensor_msgs/msg/Image")))
    session.handle("success")
    for size in (0, 48):
        convert(tmp_path / "demos", tmp_path / f"data_{size}", image_size=size, progress=False)
        episode = next(iter(MinariStorage.read(data_dir(tmp_path / f"data_{size}")).get_episodes([0])))
        assert ("image" in episode["observations"]) == bool(size)
    images = episode["observations"]["image"]
    assert images.shape[1:] == (48, 48, 3)
    assert images[0, :, :24].max() == 0 and images[0, :, 25:].min() == 200
