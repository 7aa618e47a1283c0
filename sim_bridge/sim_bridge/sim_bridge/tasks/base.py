"""What a task is: objects added to the scene, a seeded placement over an object space, a success
detector and the sparse reward of the seeds (1 on success steps, else 0)."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass

import mujoco
import numpy as np
from polyarm_description import ROBOTS, RobotProfile
from polyarm_description.objects import TASK_OBJECTS, Box

# Scene objects collide with everything, robot geoms with the scene only (sim_bridge.scene).
OBJECT_CONTYPE, OBJECT_CONAFFINITY = 1, 3


class TaskError(ValueError):
    pass


@dataclass(frozen=True)
class ObjectSpace:
    """A square area on the table in front of the robot (as in the SAC-CQL-SI paper's object spaces): `area_cm2` of it, holding
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

    def __init__(self, robot: RobotProfile, object_space: ObjectSpace | None = None):
        if robot.name not in self.robots():
            raise TaskError(f"the {robot.name} cannot do {self.name}; robots that can: {', '.join(self.robots())}")
        self.robot = robot
        self.object_space = object_space or ObjectSpace(self.object_space_center(robot.name))

    # The robot profile's task_layout entry for the centre of this task's object space.
    layout_key = "objects"

    @classmethod
    def robots(cls) -> tuple[str, ...]:
        """The arms whose profile places this task (task_layout)."""
        return tuple(name for name, profile in ROBOTS.items() if cls.layout_key in profile.task_layout)

    @classmethod
    def object_space_center(cls, robot: str) -> tuple[float, float]:
        return ROBOTS[robot].task_layout[cls.layout_key]

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

    @property
    def object_shape(self) -> tuple[Box, ...]:
        """The object body's shape (boxes in its frame), for perception's template, from the description;
        empty: perception cannot find this task's object."""
        return TASK_OBJECTS.get(self.name, ())

