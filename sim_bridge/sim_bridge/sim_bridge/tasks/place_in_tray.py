"""place-in-tray: put the shed into a tray beside it (COG's pick-and-place)."""

from __future__ import annotations

import mujoco
import numpy as np

from sim_bridge.tasks.base import OBJECT_CONAFFINITY, OBJECT_CONTYPE, Task
from sim_bridge.tasks.pick import add_shed, place_shed

TRAY_HALF = (0.075, 0.075)  # inner half size, m
WALL_HEIGHT, WALL = 0.035, 0.006


class PlaceInTray(Task):
    name = "place_in_tray"
    object_body = "shed"
    default_episode_length = 30
    layout_key = "tray_objects"  # the tray stands at the profile's task_layout["tray"]

    @property
    def tray_center(self) -> np.ndarray:
        return np.asarray(self.robot.task_layout["tray"])

    def build(self, spec):
        add_shed(spec)
        tray = spec.worldbody.add_body(name="tray", pos=[*self.tray_center, 0.0])
        box = mujoco.mjtGeom.mjGEOM_BOX
        style = dict(rgba=[0.85, 0.85, 0.8, 1], contype=OBJECT_CONTYPE, conaffinity=OBJECT_CONAFFINITY)
        hx, hy = TRAY_HALF
        tray.add_geom(type=box, size=[hx + WALL, hy + WALL, 0.003], pos=[0, 0, 0.003], **style)
        for sx in (-1, 1):
            tray.add_geom(type=box, size=[WALL / 2, hy + WALL, WALL_HEIGHT / 2], pos=[sx * (hx + WALL / 2), 0, WALL_HEIGHT / 2], **style)
        for sy in (-1, 1):
            tray.add_geom(type=box, size=[hx, WALL / 2, WALL_HEIGHT / 2], pos=[0, sy * (hy + WALL / 2), WALL_HEIGHT / 2], **style)

    def reset(self, model, data, rng):
        place_shed(model, data, self.object_space.sample(rng))

    def success(self, model, data, tcp_position):
        """The shed rests inside the tray's walls, below their top (not held above it)."""
        p = data.body("shed").xpos
        inside = np.all(np.abs(p[:2] - self.tray_center) < np.asarray(TRAY_HALF))
        return bool(inside and p[2] < WALL_HEIGHT + 0.01)
