"""The arm's kinematics and dynamics at a given joint state, from MuJoCo on the robot description.

It has its own MjData, fed from joint_states (or from the position adapter's reference model): it
never reads the simulator's state, so it runs unchanged against a real robot.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
from polyarm_description import RobotProfile, home_joints, joint_limits, load_model


@dataclass
class ArmState:
    """Everything the control law needs at one joint state (arm joints only)."""

    q: np.ndarray
    qd: np.ndarray
    M: np.ndarray  # joint-space inertia (with rotor armature)
    J: np.ndarray  # 6 x n TCP Jacobian, linear over angular, in base_link
    coriolis: np.ndarray  # C(q, qd) qd
    gravity: np.ndarray  # g(q): torque that holds the arm against gravity
    tcp_position: np.ndarray
    tcp_rotation: np.ndarray

    @property
    def tcp_velocity(self) -> np.ndarray:
        return self.J @ self.qd


class RobotDynamics:
    def __init__(self, robot: RobotProfile):
        self.robot = robot
        self.model = load_model(robot)
        self.data = mujoco.MjData(self.model)
        self.limits = joint_limits(self.model, robot)
        m = self.model
        self._qadr = np.array([m.joint(n).qposadr[0] for n in robot.arm_joints])
        self._dof = np.array([m.joint(n).dofadr[0] for n in robot.arm_joints])
        self._site = m.site(robot.tcp_site).id
        self._arm_block = np.ix_(self._dof, self._dof)
        self._full_M = np.zeros((m.nv, m.nv))
        self._jacp, self._jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        # Every moving body of the descriptions has gravcomp="1", so MuJoCo's qfrc_gravcomp is g(q).
        if not np.all(m.body_gravcomp[m.jnt_bodyid[[m.joint(n).id for n in robot.arm_joints]]] == 1.0):
            raise ValueError(f"{robot.name}: arm bodies must carry gravcomp='1' for the gravity term")

    def state(self, q: np.ndarray, qd: np.ndarray) -> ArmState:
        m, d = self.model, self.data
        d.qpos[self._qadr], d.qvel[self._dof] = q, qd
        mujoco.mj_forward(m, d)
        mujoco.mj_fullM(m, d, self._full_M)
        mujoco.mj_jacSite(m, d, self._jacp, self._jacr, self._site)
        dof = self._dof
        gravity = d.qfrc_gravcomp[dof].copy()
        return ArmState(
            q=np.array(q, dtype=float),
            qd=np.array(qd, dtype=float),
            M=self._full_M[self._arm_block],
            J=np.vstack([self._jacp[:, dof], self._jacr[:, dof]]),
            coriolis=d.qfrc_bias[dof] - gravity,
            gravity=gravity,
            tcp_position=d.site_xpos[self._site].copy(),
            tcp_rotation=d.site_xmat[self._site].reshape(3, 3).copy(),
        )

    def home(self) -> np.ndarray:
        return home_joints(self.model, self.robot)
