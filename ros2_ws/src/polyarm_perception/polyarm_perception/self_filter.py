"""RobotSelfFilter: the arm's own points taken out of a cloud, as ROS's robot_self_filter does.

Every geom of the robot's model (polyarm_description), posed by forward kinematics from the newest
joint positions, is an oriented box (MuJoCo's geom_aabb) grown by a margin; points inside any box are
the robot's. Without it a block-sized finger can pass for the object, and the block in the gripper
merges with the fingers into one cluster that matches nothing, so perception loses the object at the
moment a pick policy most needs it.
"""

from __future__ import annotations

import mujoco
import numpy as np
from polyarm_description import load_model


class RobotSelfFilter:
    def __init__(self, robot, margin: float = 0.008):
        self.model = load_model(robot)
        self.data = mujoco.MjData(self.model)
        mujoco.mj_resetDataKeyframe(self.model, self.data, self.model.key("home").id)
        self.margin = margin
        self._qpos_address = {self.model.joint(j).name: int(self.model.jnt_qposadr[j]) for j in range(self.model.njnt)}
        self._boxes: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.update([], [])

    def update(self, names, positions) -> None:
        """The arm's pose from joint_states (names the model lacks are ignored)."""
        for name, position in zip(names, positions):
            address = self._qpos_address.get(name)
            if address is not None:
                self.data.qpos[address] = position
        mujoco.mj_kinematics(self.model, self.data)
        rotations = self.data.geom_xmat.reshape(-1, 3, 3)
        centres = self.data.geom_xpos + np.einsum("gij,gj->gi", rotations, self.model.geom_aabb[:, :3])
        self._boxes = (centres, rotations, self.model.geom_aabb[:, 3:] + self.margin)

    def keep(self, points: np.ndarray) -> np.ndarray:
        """The points outside every robot geom's box."""
        centres, rotations, halves = self._boxes
        inside = np.zeros(len(points), dtype=bool)
        for centre, rotation, half in zip(centres, rotations, halves):
            local = (points - centre) @ rotation
            inside |= np.all(np.abs(local) <= half, axis=1)
        return points[~inside]
