"""The ground floor's hot paths: numpy rotations against MuJoCo's mju_* functions (the round-one
implementation, which the controller and the policy step used before polyarm_core), and PolicyCore's
step around a model that costs nothing (what the shared step adds to every policy tick).

    .venv/bin/python bench/bench_core.py [--repeats 20000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from polyarm_core.policy_core import PolicyCore, RobotReading
from polyarm_core.rotations import from_rotation_vector, matrix_to_quat, orientation_error, quat_to_matrix
from polyarm_description import get_robot


def mujoco_peer():
    """The same four conversions through MuJoCo's C functions (round one's polyarm_control.rotations)."""
    import mujoco

    def wxyz(R):
        q = np.empty(4)
        mujoco.mju_mat2Quat(q, np.ascontiguousarray(R, dtype=float).ravel())
        return q

    def to_matrix(q_xyzw):
        x, y, z, w = np.asarray(q_xyzw, dtype=float) / np.linalg.norm(q_xyzw)
        R = np.empty(9)
        mujoco.mju_quat2Mat(R, np.array([w, x, y, z]))
        return R.reshape(3, 3)

    def to_quat(R):
        w, x, y, z = wxyz(R)
        q = np.array([x, y, z, w])
        return q if w >= 0 else -q

    def from_vector(v):
        angle = np.linalg.norm(v)
        q, R = np.empty(4), np.empty(9)
        mujoco.mju_axisAngle2Quat(q, v / angle, angle)
        mujoco.mju_quat2Mat(R, q)
        return R.reshape(3, 3)

    def error(Rd, Rc):
        qd, qc = wxyz(Rd), wxyz(Rc)
        qc_inv, q, v = np.empty(4), np.empty(4), np.empty(3)
        mujoco.mju_negQuat(qc_inv, qc)
        mujoco.mju_mulQuat(q, qd, qc_inv)
        if q[0] < 0:
            q = -q
        mujoco.mju_quat2Vel(v, q, 1.0)
        return v

    return {"quat_to_matrix": to_matrix, "matrix_to_quat": to_quat, "from_rotation_vector": from_vector,
            "orientation_error": error}


def time_us(fn, args, repeats: int) -> float:
    for _ in range(100):
        fn(*args)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    return 1e6 * (time.perf_counter() - t0) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=20000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    v = rng.uniform(-1, 1, 3)
    R1, R2 = from_rotation_vector(v), from_rotation_vector(rng.uniform(-1, 1, 3))
    q = matrix_to_quat(R1)
    ours = {"quat_to_matrix": (quat_to_matrix, (q,)), "matrix_to_quat": (matrix_to_quat, (R1,)),
            "from_rotation_vector": (from_rotation_vector, (v,)), "orientation_error": (orientation_error, (R1, R2))}
    peer = mujoco_peer()
    print("| function | polyarm_core (numpy) us | MuJoCo mju_* us | ratio |\n|---|---:|---:|---:|")
    for name, (fn, fargs) in ours.items():
        a, b = time_us(fn, fargs, args.repeats), time_us(peer[name], fargs, args.repeats)
        assert np.allclose(np.abs(fn(*fargs)), np.abs(peer[name](*fargs)), atol=1e-9), name
        print(f"| {name} | {a:.2f} | {b:.2f} | {a / b:.2f} |")

    robot = get_robot("panda")
    checkpoint = {"observation": {"image_size": 48, "neutral_quaternion": robot.home_tcp_quaternion},
                  "action": {"position_scale": 0.05, "rotation_scale": 0.2}}
    core = PolicyCore.for_checkpoint(checkpoint, robot, max_observation_age=0.3)
    frame = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    reading = RobotReading(np.array(robot.home_tcp_position), np.array(robot.home_tcp_quaternion), 1.0, image=frame,
                           stamps={"ee_pose": 0.0, "camera image": 0.0})
    action = np.array([0.1, -0.2, 0.3, 0.0, 0.1, 0.0, 1.0, 0.0])
    step = time_us(core.step, (lambda observation: action, reading, 0.1), args.repeats // 10)
    adapters = time_us(lambda: (core.observe_adapter.image(frame), core.command(action, reading)), (), args.repeats // 10)
    print(f"\n| PolicyCore.step, 160x120 frame, zero-cost model | {step:.1f} us |\n|---|---:|\n"
          f"| its adapters alone (image resize, action to target) | {adapters:.1f} us |")


if __name__ == "__main__":
    main()
