"""The policy's I/O, one module for the Gymnasium envs and the policy-server node (docs/architecture.md,
"Policy I/O"), so a policy sees in sim exactly what it will see on the robot.

Observation: `image` (uint8 S x S x 3: the camera frame centre-cropped to a square, then resized
with area averaging), `state` (TCP position, TCP orientation as a quaternion x y z w, gripper
opening 0..1) and `object_position` (the task object's position in base_link, from perception on the
robot and ground truth in sim), float32. Image policies read image and state; state-based policies
read state and object position (`policy_state`). The quaternion's sign is chosen in the hemisphere of the arm's neutral
orientation: a gripper pointing down has w near 0, and a "w >= 0" rule would flip the state's sign
under the smallest rotation.
Action: 7 floats in [-1, 1], [dx, dy, dz, droll, dpitch, dyaw, gripper] in base_link, scaled by the
action scale (m and rad per step); the gripper closes below -0.5 and opens above 0.5, as in COG; an
optional 8th value above 0.5 returns the arm to its neutral pose. The target is the measured TCP
pose at observation time plus the scaled delta, clipped to the workspace box.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polyarm_core.rotations import from_rotation_vector

STATE_SIZE = 8  # position 3, quaternion 4, gripper 1
OBJECT_SIZE = 3  # object position
STATE_KEYS = ["tcp_position", "tcp_quaternion_xyzw", "gripper_opening"]
OBJECT_KEYS = ["object_position"]
GRIPPER_CLOSE_BELOW, GRIPPER_OPEN_ABOVE = -0.5, 0.5


class ObservationError(ValueError):
    pass


class ActionError(ValueError):
    pass


STATE_LOW = np.array([-2, -2, -2, -1, -1, -1, -1, 0], dtype=np.float32)
STATE_HIGH = np.array([2, 2, 2, 1, 1, 1, 1, 1], dtype=np.float32)


def policy_state(observation: dict, state_keys: list[str]) -> np.ndarray:
    """The network's state input for a checkpoint's state keys: the robot state, plus the object
    position for state-based policies."""
    state = np.asarray(observation["state"], np.float32)
    if "object_position" not in state_keys:
        return state
    if "object_position" not in observation:
        raise ObservationError("this state-based policy needs the object position (perception/object_pose), and none came")
    obj = np.asarray(observation["object_position"], np.float32)
    if obj.shape != (OBJECT_SIZE,) or not np.all(np.isfinite(obj)):
        raise ObservationError(f"object position must be {OBJECT_SIZE} finite values, got {obj}")
    return np.concatenate([state, obj])


@dataclass(frozen=True)
class ObservationAdapter:
    image_size: int = 48  # 0: a state-based policy, no camera
    neutral_quaternion: tuple = (0.0, 0.0, 0.0, 1.0)  # x y z w: picks the quaternion's sign

    def __post_init__(self):
        if self.image_size not in (0, 48, 64):
            raise ObservationError(f"image size {self.image_size} not supported; use 48 or 64 (0: no camera)")

    def image(self, frame: np.ndarray) -> np.ndarray:
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ObservationError(f"camera frame must be uint8 HxWx3, got {frame.dtype} {frame.shape}")
        h, w = frame.shape[:2]
        if min(h, w) < self.image_size:
            raise ObservationError(f"camera frame {w}x{h} is smaller than the {self.image_size}x{self.image_size} input")
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = frame[top : top + side, left : left + side]
        import cv2  # OpenCV's area resize is what every checkpoint was trained on

        return cv2.resize(square, (self.image_size, self.image_size), interpolation=cv2.INTER_AREA)

    def state(self, tcp_position, tcp_quaternion_xyzw, gripper_opening: float) -> np.ndarray:
        q = np.asarray(tcp_quaternion_xyzw, float)
        if np.dot(q, self.neutral_quaternion) < 0:
            q = -q
        state = np.concatenate([np.asarray(tcp_position, float), q, [np.clip(gripper_opening, 0.0, 1.0)]])
        if state.shape != (STATE_SIZE,) or not np.all(np.isfinite(state)):
            raise ObservationError(f"state must be {STATE_SIZE} finite values, got {state}")
        return state.astype(np.float32)


@dataclass(frozen=True)
class Command:
    """What one action asks of the controller and the gripper."""

    position: np.ndarray
    rotation: np.ndarray
    gripper: float | None  # 0 close, 1 open, None: leave as it is
    neutral: bool
    clipped: bool


@dataclass(frozen=True)
class ActionAdapter:
    position_scale: float = 0.05  # m per step at |action| = 1
    rotation_scale: float = 0.2  # rad per step
    workspace_low: tuple = (0.15, -0.5, 0.02)
    workspace_high: tuple = (0.8, 0.5, 0.8)

    def command(self, action, tcp_position, tcp_rotation, neutral_pose=None) -> Command:
        action = np.asarray(action, dtype=float)
        if action.shape not in ((7,), (8,)):
            raise ActionError(f"action must have 7 or 8 values, got shape {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ActionError(f"action is not finite: {action}")
        action = np.clip(action, -1.0, 1.0)
        gripper = 0.0 if action[6] < GRIPPER_CLOSE_BELOW else 1.0 if action[6] > GRIPPER_OPEN_ABOVE else None
        if action.shape == (8,) and action[7] > 0.5:
            if neutral_pose is None:
                raise ActionError("a neutral action needs the neutral pose")
            return Command(np.asarray(neutral_pose[0], float), np.asarray(neutral_pose[1], float), 1.0, True, False)
        target = np.asarray(tcp_position, float) + self.position_scale * action[:3]
        clipped = np.clip(target, self.workspace_low, self.workspace_high)
        rotation = from_rotation_vector(self.rotation_scale * action[3:6]) @ np.asarray(tcp_rotation, float)
        return Command(clipped, rotation, gripper, False, bool(np.any(clipped != target)))

