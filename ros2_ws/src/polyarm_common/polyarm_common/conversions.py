"""numpy <-> ROS message conversion. Plain functions; the message classes are the only ROS import."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from sensor_msgs.msg import CameraInfo, Image, JointState

_ENCODINGS = {"rgb8": (np.uint8, 3), "16UC1": (np.uint16, 1), "32FC1": (np.float32, 1), "mono8": (np.uint8, 1)}


def stamp(nanoseconds: int) -> Time:
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def seconds(time: Time) -> float:
    """A stamp (or a Clock message's clock) in seconds."""
    return time.sec + 1e-9 * time.nanosec


def joint_state(names, position, velocity, effort, time: Time) -> JointState:
    msg = JointState(name=list(names))
    msg.header.stamp = time
    msg.position = np.asarray(position, dtype=float).tolist()
    msg.velocity = np.asarray(velocity, dtype=float).tolist()
    msg.effort = np.asarray(effort, dtype=float).tolist()
    return msg


def pose_stamped(position, quaternion_xyzw, frame_id: str, time: Time) -> PoseStamped:
    msg = PoseStamped()
    msg.header.stamp, msg.header.frame_id = time, frame_id
    p, q = msg.pose.position, msg.pose.orientation
    p.x, p.y, p.z = (float(v) for v in position)
    q.x, q.y, q.z, q.w = (float(v) for v in quaternion_xyzw)
    return msg


def pose_arrays(msg: PoseStamped) -> tuple[np.ndarray, np.ndarray]:
    """A PoseStamped's position and quaternion (x, y, z, w)."""
    p, q = msg.pose.position, msg.pose.orientation
    return np.array([p.x, p.y, p.z]), np.array([q.x, q.y, q.z, q.w])


def gripper_opening(robot, msg: JointState) -> float | None:
    """The gripper's opening (0 closed .. 1 open) from a joint_states message; None if it has no finger."""
    finger = robot.finger_joints[0]
    names = list(msg.name)
    return robot.gripper_opening(msg.position[names.index(finger)]) if finger in names else None


def image(array: np.ndarray, encoding: str, frame_id: str, time: Time) -> Image:
    dtype, channels = _ENCODINGS[encoding]
    array = np.ascontiguousarray(array, dtype=dtype)
    height, width = array.shape[:2]
    msg = Image(height=height, width=width, encoding=encoding, is_bigendian=0)
    msg.step = width * channels * array.itemsize
    msg.header.stamp, msg.header.frame_id = time, frame_id
    msg.data = array.tobytes()  # bytes, not ndarray: assigning an array costs ~60 ms per frame
    return msg


def image_to_array(msg: Image) -> np.ndarray:
    if msg.encoding not in _ENCODINGS:
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; supported: {sorted(_ENCODINGS)}")
    dtype, channels = _ENCODINGS[msg.encoding]
    array = np.frombuffer(bytes(msg.data), dtype=dtype)
    expected = msg.height * msg.width * channels
    if array.size != expected:
        raise ValueError(f"image data holds {array.size} values, {msg.width}x{msg.height} {msg.encoding} needs {expected}")
    shape = (msg.height, msg.width, channels) if channels > 1 else (msg.height, msg.width)
    return array.reshape(shape)


def camera_info(K: np.ndarray, width: int, height: int, frame_id: str, time: Time,
                distortion=(0.0, 0.0, 0.0, 0.0, 0.0)) -> CameraInfo:
    """A pinhole CameraInfo for the intrinsic matrix K (plumb_bob distortion, none by default)."""
    msg = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    msg.header.stamp, msg.header.frame_id = time, frame_id
    msg.d = [float(v) for v in distortion]
    msg.k = np.asarray(K, dtype=float).ravel().tolist()
    msg.r = np.eye(3).ravel().tolist()
    msg.p = np.hstack([K, np.zeros((3, 1))]).ravel().tolist()
    return msg


def diagnostic(name: str, hardware_id: str, level: bytes, message: str, values: dict) -> DiagnosticStatus:
    """level: DiagnosticStatus.OK, WARN, ERROR or STALE."""
    status = DiagnosticStatus(name=name, hardware_id=hardware_id, message=message, level=level)
    status.values = [KeyValue(key=k, value=_fmt(v)) for k, v in values.items()]
    return status


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
