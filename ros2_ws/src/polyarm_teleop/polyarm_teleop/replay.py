"""`polyarm replay DATASET --episode K [--seed S]`: play a dataset episode's actions through the running
graph, at the policy's rate (on the sim's /clock when there is one), to check a dataset before training on it.

Each action goes through PolicyCore, as the policy node's would: a target relative to the TCP measured
at that step, and the gripper. With --seed the sim is first reset to that placement (the seed the
episode was recorded on: `polyarm dataset info`, or the episode's episode.json). It prints, per step,
the distance between the target and where the arm got to, and at the end whether (and at which step)
the sim's success detector fired.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def load_actions(path: Path, episode: int) -> tuple[np.ndarray, dict]:
    from polyarm_data.dataset import DatasetError, open_storage

    storage = open_storage(path)
    if not 0 <= episode < storage.total_episodes:
        raise DatasetError(f"{path} has episodes 0..{storage.total_episodes - 1}, not {episode}")
    meta = storage.metadata.get("polyarm", {})
    missing = [k for k in ("robot", "action_scale") if k not in meta]
    if missing:
        raise DatasetError(f"{path} has no {', '.join(missing)} in its metadata; was it written by polyarm?")
    return np.asarray(next(iter(storage.get_episodes([episode])))["actions"]), meta


def replay(node, actions: np.ndarray, meta: dict, seed: int | None) -> int | None:
    """Play the actions; the first step at whose end sim/success was reported, or None."""
    from geometry_msgs.msg import PoseStamped
    from polyarm_common import conversions as conv
    from polyarm_common.graph import Collector, follow_sim_clock, reset_sim_episode, spin_for_clock, spin_until
    from polyarm_common.qos import COMMAND, STATE
    from polyarm_core.policy_core import PolicyCore, RobotReading
    from polyarm_core.rotations import matrix_to_quat
    from polyarm_description import get_robot
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool, Float64

    robot = get_robot(meta["robot"])
    core = PolicyCore.for_robot(robot, 0, *meta["action_scale"])
    poses = Collector(node, PoseStamped, "controller/ee_pose", STATE)
    joints = Collector(node, JointState, "joint_states", STATE)
    success = Collector(node, Bool, "sim/success", STATE)
    targets = node.create_publisher(PoseStamped, "controller/target_pose", COMMAND)
    gripper = node.create_publisher(Float64, "gripper/command", COMMAND)
    spin_until(node, lambda: poses.messages and joints.messages, 30, "controller/ee_pose and joint_states")
    # each action gets its period of simulated time, however fast the sim runs
    clock = "the sim's /clock" if follow_sim_clock(node) else "the wall clock (no /clock in the graph)"
    print(f"pacing on {clock}", flush=True)
    if seed is not None:
        reset_sim_episode(node, seed)
    period = 1.0 / meta.get("policy_rate_hz", 2.0)
    succeeded_at = None
    for k, action in enumerate(actions):
        position, quaternion = conv.pose_arrays(poses.last)
        opening = conv.gripper_opening(robot, joints.last)
        opening = 1.0 if opening is None else opening
        command = core.command(action, RobotReading(position, quaternion, opening))
        targets.publish(conv.pose_stamped(command.position, matrix_to_quat(command.rotation), "base_link",
                                          node.get_clock().now().to_msg()))
        if command.gripper is not None:
            gripper.publish(Float64(data=command.gripper))
        success.clear()
        spin_for_clock(node, period)
        reached = np.linalg.norm(conv.pose_arrays(poses.last)[0] - command.position)
        print(f"step {k:3d}: target {np.round(command.position, 3)}, arm {1e3 * reached:.1f} mm from it", flush=True)
        if succeeded_at is None and any(m.data for m in success.messages):
            succeeded_at = k  # as `polyarm eval` counts it: reported at any time during the episode
    return succeeded_at


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="polyarm replay", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--episode", type=int, default=0)
    parser.add_argument("--seed", type=int, help="reset the sim to this placement first")
    args = parser.parse_args(argv)
    from polyarm_common.ros_env import configure_ros_environment
    from polyarm_data.dataset import DatasetError

    try:
        actions, meta = load_actions(args.dataset, args.episode)
    except DatasetError as err:
        print(f"polyarm replay: {err}", file=sys.stderr)
        return 2
    configure_ros_environment()
    import rclpy

    rclpy.init()
    node = rclpy.create_node("replay")
    try:
        succeeded_at = replay(node, actions, meta, args.seed)
    except (RuntimeError, TimeoutError) as err:
        print(f"polyarm replay: {err}", file=sys.stderr)
        return 1
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    fired = "did not fire" if succeeded_at is None else f"fired at step {succeeded_at}"
    print(f"episode {args.episode}: {len(actions)} actions replayed; the sim's success detector {fired}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
