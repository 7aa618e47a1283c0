"""What a task is: objects added to the scene, a seeded placement over an object space, a success
detector and the sparse reward of the seeds (1 on success steps, else 0)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import mujoco
import numpy as np
from polyarm_description import RobotSpec

# Where each arm's object space is centred on the table (base_link, m): the middle of its reach.
OBJECT_SPACE_CENTER = {"panda": (0.5, 0.0), "xarm7": (0.45, 0.0), "wx250s": (0.3, 0.0), "wx250": (0.3, 0.0)}
# Scene objects collide with everything, robot geoms with the scene only (sim_bridge.scene).
OBJECT_CONTYPE, OBJECT_CONAFFINITY = 1, 3


class TaskError(ValueError):
    pass


@dataclass(frozen=True)
class ObjectSpace:
    """A square area on the table in front of the robot (seed 000): `area_cm2` of it, holding
    `density` distinct object configurations per cm², laid out as a grid."""

    center: tuple[float, float]
    area_cm2: float = 360.0
    density: float = 10.0

    def __post_init__(self):
        if self.area_cm2 <= 0 or self.density <= 0:
            raise TaskError(f"object space needs a positive area and density, got {self.area_cm2} cm², {self.density}/cm²")

    @property
    def configurations(self) -> int:
        return max(1, round(self.area_cm2 * self.density))

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """One of the configurations, uniformly: its (x, y) in base_link."""
        n = self.configurations
        k = math.ceil(math.sqrt(n))
        row, col = divmod(int(rng.integers(n)), k)
        side = math.sqrt(self.area_cm2) / 100.0
        return np.asarray(self.center) + side * (np.array([row, col]) + 0.5) / k - side / 2.0


class Task(ABC):
    name = "task"
    default_episode_length = 20

    def __init__(self, robot: RobotSpec, object_space: ObjectSpace | None = None):
        if robot.name not in self.robots():
            raise TaskError(f"the {robot.name} cannot do {self.name}; robots that can: {', '.join(self.robots())}")
        self.robot = robot
        self.object_space = object_space or ObjectSpace(self.object_space_center(robot.name))

    @classmethod
    def robots(cls) -> tuple[str, ...]:
        return ("panda", "xarm7", "wx250s", "wx250")

    @classmethod
    def object_space_center(cls, robot: str) -> tuple[float, float]:
        return OBJECT_SPACE_CENTER[robot]

    def build(self, spec: mujoco.MjSpec) -> None:
        """Add the task's bodies to the scene."""

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Place the task's objects for a new episode (the arm is already at home)."""

    @abstractmethod
    def success(self, model: mujoco.MjModel, data: mujoco.MjData, tcp_position: np.ndarray) -> bool:
        """The task's success detector on the current state."""

    def object_pose(self, model: mujoco.MjModel, data: mujoco.MjData) -> tuple[np.ndarray, np.ndarray]:
        """Ground truth for sim/object_pose: position and quaternion (x, y, z, w) in base_link."""
        body = data.body(self.object_body)
        w, x, y, z = body.xquat
        return body.xpos.copy(), np.array([x, y, z, w])

    object_body = ""


def add_marker_body(spec: mujoco.MjSpec, name: str, mocap: bool = True) -> mujoco.MjsBody:
    return spec.worldbody.add_body(name=name, mocap=mocap)
