"""`polyarm convert`: recorded episodes (one MCAP bag each, from `polyarm teleop --record`) into the
Minari-layout dataset `polyarm train` reads, the layout `polyarm collect` writes.

    polyarm convert demos/ --out data/panda_reach_teleop [--rate 2] [--image-size 48]

Each episode is resampled at the policy's rate from its first moment with every input. The observation
at step k comes from the latest message of each topic at t_k, through the policy node's own adapters
(PolicyCore: image crop and area resize, state with the quaternion's hemisphere, object position). The
action at step k is what a policy would have had to output to send the operator's target at t_k+1 from
the TCP measured at t_k (the latest target before t_k+1: the one in force over the step): the scaled
position and rotation deltas (clipped to [-1, 1]), the gripper
(+1 open, -1 closed), and -1 for the neutral action. The reward is sparse, as in scripted data:
1 where the sim's success detector said so, or, on a robot, on the last step of an episode labelled
a success. Episodes labelled failures are kept (reward 0): offline RL learns from them too.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from polyarm_common import conversions as conv
from polyarm_core.policy_core import PolicyCore, RobotReading
from polyarm_core.rotations import orientation_error, quat_to_matrix
from polyarm_description import get_robot

from polyarm_teleop.session import read_episode

EE_POSE, TARGET, JOINTS = "controller/ee_pose", "controller/target_pose", "joint_states"
GRIPPER, IMAGE, SUCCESS = "gripper/command", "camera/color/image_raw", "sim/success"
OBJECT_TOPICS = ("sim/object_pose", "perception/object_pose")  # ground truth in sim, perception on a robot


class ConversionError(ValueError):
    pass


@dataclass
class Stream:
    """One topic's values in time order, looked up by time (the latest at or before it)."""

    times: np.ndarray  # s
    values: list

    def at(self, t: float):
        """The latest value at or before t (1 µs of slack for stamps that round)."""
        i = int(np.searchsorted(self.times, t + 1e-6, side="right")) - 1
        return self.values[i] if i >= 0 else None

    def before(self, t: float):
        """The latest value strictly before t: the target in force until then, not the next one sent at t."""
        i = int(np.searchsorted(self.times, t - 1e-6, side="right")) - 1
        return self.values[i] if i >= 0 else None


def load_streams(path: Path, robot) -> dict[str, Stream]:
    """The episode's topics, decoded to arrays, on the bag's receive clock."""
    from polyarm_data.recording import read_messages

    raw: dict[str, list] = {}
    finger = robot.finger_joints[0]
    for topic, stamp_ns, msg in read_messages(path):
        value = _decode(topic, msg, finger, robot)
        if value is not None:
            raw.setdefault(topic, []).append((stamp_ns * 1e-9, value))
    return {topic: Stream(np.array([t for t, _ in rows]), [v for _, v in rows]) for topic, rows in raw.items()}


def _decode(topic: str, msg, finger: str, robot):
    if topic in (EE_POSE, TARGET) or topic in OBJECT_TOPICS:
        return conv.pose_arrays(msg)
    if topic == JOINTS:
        names = list(msg.name)
        return robot.gripper_opening(float(msg.position[names.index(finger)])) if finger in names else None
    if topic == GRIPPER:
        return float(msg.data)
    if topic == SUCCESS:
        return bool(msg.data)
    if topic == IMAGE:
        if msg.encoding != "rgb8":
            raise ConversionError(f"{IMAGE} is {msg.encoding}; the policy's images are rgb8")
        return conv.image_to_array(msg)
    return None


def convert_episode(path: Path, robot, core: PolicyCore, rate_hz: float, neutral_action: bool):
    """(polyarm_data.dataset.Episode, steps, success) of one recorded episode."""
    from polyarm_data.dataset import Episode

    info = read_episode(path)
    streams = load_streams(path, robot)
    needed = [EE_POSE, TARGET, JOINTS] + ([IMAGE] if core.observe_adapter.image_size else [])
    object_topic = next((t for t in OBJECT_TOPICS if t in streams), None)
    missing = [t for t in needed if t not in streams] + ([] if object_topic else [" or ".join(OBJECT_TOPICS)])
    if missing:
        raise ConversionError(f"{path.name}: no {', '.join(missing)} recorded; the episode cannot become a dataset episode")
    start = max(streams[t].times[0] for t in needed + [object_topic])
    end = streams[EE_POSE].times[-1]
    steps = int(np.floor((end - start) * rate_hz + 1e-9))
    if steps < 1:
        raise ConversionError(f"{path.name}: {end - start:.2f} s with every topic, shorter than one step at {rate_hz:g} Hz")
    times = start + np.arange(steps + 1) / rate_hz
    with_image = bool(core.observe_adapter.image_size)  # a state-only dataset ignores a recorded camera
    readings = [_reading(streams, object_topic, t, with_image) for t in times]
    episode = Episode(seed=info.seed)
    episode.start(core.observe(readings[0]), _info(readings[0], False))
    success = False
    for k in range(steps):
        action = _action(streams, readings[k], times[k + 1], core, neutral_action)
        last = k == steps - 1
        reward = _reward(streams, info, times[k + 1], last)
        success |= reward > 0
        episode.step(action, core.observe(readings[k + 1]), reward, False, last,
                     _info(readings[k + 1], reward > 0))
    return episode, steps, success


def _reading(streams, object_topic: str, t: float, with_image: bool) -> RobotReading:
    position, quaternion = streams[EE_POSE].at(t)
    image = streams[IMAGE].at(t) if with_image else None
    return RobotReading(position, quaternion, streams[JOINTS].at(t), image=image,
                        object_position=streams[object_topic].at(t)[0])


def _action(streams, reading: RobotReading, t_next: float, core: PolicyCore, neutral_action: bool) -> np.ndarray:
    target = streams[TARGET].before(t_next)
    act = core.act_adapter
    delta = (target[0] - reading.tcp_position) / act.position_scale
    turn = orientation_error(quat_to_matrix(target[1]), quat_to_matrix(reading.tcp_quaternion)) / act.rotation_scale
    gripper = streams[GRIPPER].before(t_next) if GRIPPER in streams else None
    opening = 1.0 if gripper is None else gripper
    action = np.concatenate([delta, turn, [1.0 if opening >= 0.5 else -1.0]] + ([[-1.0]] if neutral_action else []))
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def _reward(streams, info, t: float, last: bool) -> float:
    if SUCCESS in streams:
        return 1.0 if streams[SUCCESS].at(t) else 0.0
    return 1.0 if last and info.label == "success" else 0.0


def _info(reading: RobotReading, success: bool) -> dict:
    return {"success": bool(success), "object_position": np.asarray(reading.object_position, np.float32),
            "tcp_position": np.asarray(reading.tcp_position, np.float32)}


def convert(recordings: Path, out: Path, rate_hz: float = 2.0, image_size: int = 48, neutral_action: bool = True,
            position_scale: float = 0.05, rotation_scale: float = 0.2, progress: bool = True,
            labels_kept: tuple[str, ...] = ()) -> dict:
    """Every finished episode under `recordings` (those labelled one of `labels_kept`, if given) into a new
    dataset at `out`; a summary."""
    from gymnasium import spaces
    from polyarm_core.policy_io import STATE_HIGH, STATE_LOW
    from polyarm_data.dataset import create_or_open
    from tqdm import tqdm

    folders = sorted(p for p in Path(recordings).glob("episode_*") if (p / "episode.json").exists())
    if not folders:
        raise ConversionError(f"{recordings}: no finished episodes (episode_*/episode.json)")
    if labels_kept:
        folders = [f for f in folders if read_episode(f).label in labels_kept]
        if not folders:
            raise ConversionError(f"{recordings}: no episode labelled {' or '.join(labels_kept)}")
    first = read_episode(folders[0])
    robot = get_robot(first.robot)
    core = PolicyCore.for_robot(robot, image_size, position_scale, rotation_scale)
    observation_space = {"state": spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32),
                         "object_position": spaces.Box(-2.0, 2.0, (3,), np.float32)}
    if image_size:
        observation_space["image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
    episodes, labels, longest, successes = [], {}, 0, 0
    for folder in tqdm(folders, desc="convert", unit="ep", disable=not progress):
        info = read_episode(folder)
        if (info.robot, info.task) != (first.robot, first.task):
            raise ConversionError(f"{folder.name} is {info.robot} {info.task}; {folders[0].name} is "
                                  f"{first.robot} {first.task}: one dataset holds one robot and task")
        episode, steps, success = convert_episode(folder, robot, core, rate_hz, neutral_action)
        episodes.append(episode.buffer())
        labels[info.label] = labels.get(info.label, 0) + 1
        longest, successes = max(longest, steps), successes + success
    metadata = {
        "robot": first.robot, "task": first.task, "prior": False, "image_size": image_size,
        "action_scale": [position_scale, rotation_scale], "episode_length": longest, "policy_rate_hz": rate_hz,
        "start_grasped": False, "policy": "teleoperation",
        "source": {"recordings": str(Path(recordings).resolve()), "episodes": [f.name for f in folders],
                   "labels": labels, "converted_by": "polyarm convert"},
    }
    action_space = spaces.Box(-1.0, 1.0, (8 if neutral_action else 7,), np.float32)
    storage = create_or_open(out, spaces.Dict(observation_space), action_space, metadata, append=False)
    storage.update_episodes(episodes)
    return {"episodes": len(episodes), "labels": labels, "successes": successes, "longest": longest}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recordings", type=Path, help="the folder of episode_* bags `polyarm teleop --record` wrote")
    parser.add_argument("--out", type=Path, required=True, help="dataset directory to create")
    parser.add_argument("--rate", type=float, default=2.0, help="the policy's rate, Hz (default 2)")
    parser.add_argument("--image-size", type=int, default=48, choices=[0, 48, 64], help="0: state only")
    parser.add_argument("--position-scale", type=float, default=0.05, help="m per step at |action| = 1")
    parser.add_argument("--rotation-scale", type=float, default=0.2, help="rad per step at |action| = 1")
    parser.add_argument("--label", action="append", default=[], choices=["success", "failure"],
                        help="keep only episodes with this label (repeatable; default: every finished episode)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    from polyarm_data.dataset import DatasetError

    try:
        done = convert(args.recordings, args.out, args.rate, args.image_size, True, args.position_scale,
                       args.rotation_scale, not args.no_progress, tuple(args.label))
    except (ConversionError, DatasetError) as err:
        print(f"polyarm convert: {err}", file=sys.stderr)
        return 2
    labels = ", ".join(f"{n} {label}" for label, n in sorted(done["labels"].items()))
    print(f"wrote {args.out}: {done['episodes']} episodes ({labels}), {done['successes']} reach the success "
          f"detector, up to {done['longest']} steps at {args.rate:g} Hz")
    return 0


if __name__ == "__main__":
    sys.exit(main())
