"""One description, two engines: the URDF that polyarm_description generates from each MJCF, loaded by
pybullet, against the MJCF in MuJoCo at random configurations: the TCP pose, the joint-space mass
matrix and the gravity torques."""

from __future__ import annotations

import numpy as np
import pytest
from polyarm_description import ROBOTS, get_robot
from polyarm_description.robots import load_model
from polyarm_description.urdf import urdf_from_mjcf, urdf_path

pybullet = pytest.importorskip("pybullet")
CONFIGURATIONS = 20


class Engines:
    """The robot in both engines, set to the same joint positions."""

    def __init__(self, name: str, tmp_path):
        import mujoco

        self.profile = get_robot(name)
        self.model = load_model(self.profile)
        self.model.dof_armature[:] = 0.0  # a URDF has no armature (polyarm_description.urdf says so)
        self.data = mujoco.MjData(self.model)
        self.client = pybullet.connect(pybullet.DIRECT)
        pybullet.setGravity(0, 0, -9.81, physicsClientId=self.client)
        self.body = pybullet.loadURDF(str(urdf_path(self.profile, tmp_path)), useFixedBase=True,
                                      flags=pybullet.URDF_USE_INERTIA_FROM_FILE, physicsClientId=self.client)
        joints = [pybullet.getJointInfo(self.body, i, physicsClientId=self.client)
                  for i in range(pybullet.getNumJoints(self.body, physicsClientId=self.client))]
        self.links = {j[12].decode(): j[0] for j in joints}
        self.movable = [j[1].decode() for j in joints if j[2] != pybullet.JOINT_FIXED]  # pybullet's dof order
        mj_order = [self.model.joint(i).name for i in range(self.model.njnt)]
        assert sorted(self.movable) == sorted(mj_order)
        self.to_mj = np.array([mj_order.index(n) for n in self.movable])  # pybullet dof k is MuJoCo dof to_mj[k]
        self.indices = {j[1].decode(): j[0] for j in joints}

    def close(self):
        pybullet.disconnect(self.client)

    def random_q(self, rng) -> np.ndarray:
        low, high = self.model.jnt_range.T
        return rng.uniform(low, high)  # MuJoCo's joint order

    def set(self, q: np.ndarray) -> None:
        import mujoco

        self.data.qpos[:], self.data.qvel[:] = q, 0.0
        mujoco.mj_forward(self.model, self.data)
        for name, k in zip(self.movable, self.to_mj):
            pybullet.resetJointState(self.body, self.indices[name], q[k], physicsClientId=self.client)

    def tcp_mujoco(self):
        """The TCP in base_link (the URDF's root) from MuJoCo."""
        base = self.model.body("base_link").id
        R0, p0 = self.data.xmat[base].reshape(3, 3), self.data.xpos[base]
        site = self.model.site(self.profile.tcp_site).id
        return R0.T @ (self.data.site_xpos[site] - p0), R0.T @ self.data.site_xmat[site].reshape(3, 3)

    def tcp_pybullet(self):
        state = pybullet.getLinkState(self.body, self.links["tcp"], computeForwardKinematics=True,
                                      physicsClientId=self.client)
        R = np.array(pybullet.getMatrixFromQuaternion(state[5])).reshape(3, 3)
        return np.array(state[4]), R

    def mass_matrices(self, q):
        import mujoco

        M = np.zeros((self.model.nv, self.model.nv))
        mujoco.mj_fullM(self.model, self.data, M)  # MuJoCo 4: from the model and data
        q_pb = [float(q[k]) for k in self.to_mj]
        M_pb = np.array(pybullet.calculateMassMatrix(self.body, q_pb, physicsClientId=self.client))
        return M[np.ix_(self.to_mj, self.to_mj)], M_pb

    def gravity_torques(self, q):
        q_pb = [float(q[k]) for k in self.to_mj]
        zeros = [0.0] * len(q_pb)
        tau_pb = np.array(pybullet.calculateInverseDynamics(self.body, q_pb, zeros, zeros, physicsClientId=self.client))
        return self.data.qfrc_bias[self.to_mj].copy(), tau_pb  # at rest the bias is gravity alone


@pytest.fixture(params=sorted(ROBOTS))
def engines(request, tmp_path):
    e = Engines(request.param, tmp_path)
    yield e
    e.close()


def test_the_generated_urdf_puts_the_tcp_where_mujoco_does(engines):
    rng = np.random.default_rng(0)
    for _ in range(CONFIGURATIONS):
        q = engines.random_q(rng)
        engines.set(q)
        (p_mj, R_mj), (p_pb, R_pb) = engines.tcp_mujoco(), engines.tcp_pybullet()
        assert np.linalg.norm(p_mj - p_pb) < 1e-4, (engines.profile.name, q, p_mj, p_pb)
        angle = np.arccos(np.clip((np.trace(R_mj.T @ R_pb) - 1) / 2, -1, 1))
        assert angle < 1e-4, (engines.profile.name, q, angle)


def test_the_generated_urdf_has_mujocos_mass_matrix_and_gravity(engines):
    rng = np.random.default_rng(1)
    for _ in range(CONFIGURATIONS):
        q = engines.random_q(rng)
        engines.set(q)
        M_mj, M_pb = engines.mass_matrices(q)
        error = np.linalg.norm(M_mj - M_pb) / np.linalg.norm(M_mj)
        assert error < 1e-3, (engines.profile.name, q, error)
        g_mj, g_pb = engines.gravity_torques(q)
        assert np.linalg.norm(g_mj - g_pb) <= 1e-3 * np.linalg.norm(g_mj) + 1e-6, (engines.profile.name, g_mj, g_pb)


def test_the_urdf_is_cached_by_content_and_says_where_it_came_from(tmp_path):
    panda = get_robot("panda")
    first = urdf_path(panda, tmp_path)
    assert urdf_path(panda, tmp_path) == first and len(list(tmp_path.iterdir())) == 1
    text = first.read_text()
    assert "generated by polyarm_description.urdf from panda.xml" in text and text == urdf_from_mjcf(panda)
