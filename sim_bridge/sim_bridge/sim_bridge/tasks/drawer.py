"""The drawer tasks (COG's drawer environment, the SAC-CQL-SI paper's open-drawer): a cabinet on the table with a
drawer that opens toward the robot, and a handle bar on its front.

open_drawer, close_drawer, and take_out_of_drawer from an open or a closed drawer (COG's harder
initial condition). The cabinet's position is drawn from the object space. They run on the Panda and
the xArm 7; the WidowX would need a smaller drawer (not modelled).
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim_bridge.tasks.base import OBJECT_CONAFFINITY, OBJECT_CONTYPE, Task
from sim_bridge.tasks.pick import HALF_SIZE, add_shed, place_shed

DEPTH, WIDTH, HEIGHT = 0.22, 0.22, 0.11  # cabinet outer size (x, y, z), m
TRAVEL = 0.14  # drawer slide range, m (positive = open, toward the robot)
OPEN_ABOVE, CLOSED_BELOW = 0.10, 0.01  # m of travel that count as open / closed
INNER_HALF = (0.085, 0.09)  # drawer box inner half size (x, y)
DRAWER_FLOOR, DRAWER_WALL = 0.012, 0.06  # drawer floor height and wall height above it
HANDLE_OFFSET, HANDLE_HEIGHT = 0.05, 0.06  # handle bar: in front of the drawer front, above the table


def add_cabinet(spec) -> None:
    box, capsule = mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CAPSULE
    style = dict(contype=OBJECT_CONTYPE, conaffinity=OBJECT_CONAFFINITY)
    wood = dict(rgba=[0.55, 0.4, 0.28, 1], **style)
    cabinet = spec.worldbody.add_body(name="cabinet", mocap=True)
    t = 0.008
    cabinet.add_geom(type=box, size=[DEPTH / 2, WIDTH / 2, t], pos=[0, 0, HEIGHT - t], **wood)  # top
    for sy in (-1, 1):
        cabinet.add_geom(type=box, size=[DEPTH / 2, t, HEIGHT / 2], pos=[0, sy * (WIDTH / 2 - t), HEIGHT / 2], **wood)
    cabinet.add_geom(type=box, size=[t, WIDTH / 2, HEIGHT / 2], pos=[DEPTH / 2 - t, 0, HEIGHT / 2], **wood)  # back
    drawer = cabinet.add_body(name="drawer")
    drawer.add_joint(name="drawer_joint", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[-1, 0, 0], range=[0, TRAVEL],
                     damping=8.0, frictionloss=0.3, armature=0.05)
    light = dict(rgba=[0.75, 0.6, 0.42, 1], **style)
    ix, iy = INNER_HALF
    front_x = -DEPTH / 2 + t
    drawer.add_geom(type=box, size=[ix + t, iy + t, 0.004], pos=[front_x + t + ix, 0, DRAWER_FLOOR - 0.004], mass=0.3, **light)
    drawer.add_geom(type=box, size=[t, WIDTH / 2 - 2 * t, (HEIGHT - 2 * t) / 2], pos=[front_x, 0, (HEIGHT - 2 * t) / 2], mass=0.2, **light)
    drawer.add_geom(type=box, size=[t / 2, iy + t, DRAWER_WALL / 2], pos=[front_x + 2 * t + 2 * ix, 0, DRAWER_FLOOR + DRAWER_WALL / 2], mass=0.05, **light)
    for sy in (-1, 1):
        drawer.add_geom(type=box, size=[ix, t / 2, DRAWER_WALL / 2], pos=[front_x + t + ix, sy * (iy + t / 2), DRAWER_FLOOR + DRAWER_WALL / 2], mass=0.05, **light)
    metal = dict(rgba=[0.75, 0.75, 0.8, 1], **style)
    hx = front_x - HANDLE_OFFSET
    drawer.add_geom(type=capsule, fromto=[hx, -0.05, HANDLE_HEIGHT, hx, 0.05, HANDLE_HEIGHT], size=[0.007, 0, 0], mass=0.02, **metal)
    for sy in (-1, 1):
        drawer.add_geom(type=capsule, fromto=[hx, sy * 0.05, HANDLE_HEIGHT, front_x - t, sy * 0.05, HANDLE_HEIGHT], size=[0.006, 0, 0], mass=0.01, **metal)


class DrawerTask(Task):
    object_body = "drawer"
    default_episode_length = 30
    start_open = False
    layout_key = "cabinet"  # only arms whose profile places a cabinet can reach a drawer

    def build(self, spec):
        add_cabinet(spec)

    def reset(self, model, data, rng):
        xy = self.object_space.sample(rng)
        data.mocap_pos[model.body("cabinet").mocapid[0]] = [xy[0], xy[1], 0.0]
        data.qpos[model.joint("drawer_joint").qposadr[0]] = TRAVEL if self.start_open else 0.0

    @staticmethod
    def opening(model, data) -> float:
        return float(data.qpos[model.joint("drawer_joint").qposadr[0]])

    @staticmethod
    def handle_position(model, data) -> np.ndarray:
        """Centre of the handle bar in base_link."""
        return data.body("drawer").xpos + np.array([-DEPTH / 2 + 0.008 - HANDLE_OFFSET, 0.0, HANDLE_HEIGHT])


class OpenDrawer(DrawerTask):
    name = "open_drawer"

    def success(self, model, data, tcp_position):
        return self.opening(model, data) > OPEN_ABOVE


class CloseDrawer(DrawerTask):
    name = "close_drawer"
    start_open = True

    def success(self, model, data, tcp_position):
        return self.opening(model, data) < CLOSED_BELOW


class TakeOutOfDrawer(DrawerTask):
    """The shed starts in the drawer's front half; success is the shed out of the drawer: lifted
    above its walls or standing outside its footprint."""

    name = "take_out_of_drawer"
    object_body = "shed"
    start_open = True
    default_episode_length = 30

    def build(self, spec):
        add_cabinet(spec)
        add_shed(spec)

    def reset(self, model, data, rng):
        super().reset(model, data, rng)
        mujoco.mj_kinematics(model, data)
        floor_center = self._drawer_inner_center(model, data)
        place_shed(model, data, [floor_center[0] - 0.03 + rng.uniform(-0.02, 0.02), floor_center[1] + rng.uniform(-0.04, 0.04), DRAWER_FLOOR])

    def _drawer_inner_center(self, model, data) -> np.ndarray:
        return data.body("drawer").xpos + np.array([-DEPTH / 2 + 0.016 + INNER_HALF[0], 0.0, 0.0])

    def success(self, model, data, tcp_position):
        p = data.body("shed").xpos
        inside = np.all(np.abs(p[:2] - self._drawer_inner_center(model, data)[:2]) < np.asarray(INNER_HALF) + 0.005)
        return bool(not inside or p[2] > DRAWER_FLOOR + DRAWER_WALL + HALF_SIZE + 0.02)


class TakeOutOfClosedDrawer(TakeOutOfDrawer):
    """COG's harder initial condition: the drawer starts closed and must be opened first."""

    name = "take_out_of_closed_drawer"
    start_open = False
    default_episode_length = 50
