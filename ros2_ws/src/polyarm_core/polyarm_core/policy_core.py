"""PolicyCore: one policy step, with every guard, the same in the policy node, the Gymnasium env and
in-process evaluation.

    reading -> [observation age] -> ObservationAdapter -> model -> [finite action] -> ActionAdapter -> Command

A `RobotReading` is what the robot gave at observation time: the measured TCP pose, the gripper
opening, and the camera frame and object position where the policy needs them, each with its stamp.
`step()` runs the whole chain and says what to do: send the command, skip the step (an input missing
or too old: nothing moves), or hold (the model produced a non-finite action: nothing is sent and the
controller is asked to hold). The Gymnasium API splits a step at the action (the caller chooses it),
so the env calls the two halves, `observe()` and `command()`, that `step()` is made of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from polyarm_core.policy_io import ActionAdapter, ActionError, Command, ObservationAdapter
from polyarm_core.rotations import quat_to_matrix


@dataclass(frozen=True)
class RobotReading:
    """The robot at observation time. `image` and `object_position` are None where not measured;
    `stamps` (s, the reading's clock) name each input for the age check."""

    tcp_position: np.ndarray
    tcp_quaternion: np.ndarray  # x y z w
    gripper_opening: float  # 0 closed .. 1 open
    image: np.ndarray | None = None  # uint8 H x W x 3, the camera's color frame
    object_position: np.ndarray | None = None  # base_link, m
    stamps: dict = field(default_factory=dict)  # input name -> stamp (s)


@dataclass(frozen=True)
class PolicyStep:
    """What one step decided: `command` to send, or a reason to skip (nothing moves) or to hold."""

    command: Command | None = None
    action: np.ndarray | None = None
    skipped: str = ""
    hold: str = ""
    observation_age: float = 0.0  # s, of the oldest input


@dataclass(frozen=True)
class PolicyCore:
    observe_adapter: ObservationAdapter
    act_adapter: ActionAdapter
    neutral_pose: tuple  # (position, rotation matrix): where COG's 8th action returns the arm
    max_observation_age: float = math.inf  # s

    @classmethod
    def for_robot(cls, robot, image_size: int, position_scale: float, rotation_scale: float,
                  neutral_quaternion=None, max_observation_age: float = math.inf) -> PolicyCore:
        """The core on a robot profile: its workspace box clips targets, its home TCP pose is the neutral
        pose, and (unless a checkpoint says otherwise) its home orientation picks the quaternion's sign."""
        hemisphere = robot.home_tcp_quaternion if neutral_quaternion is None else neutral_quaternion
        observe = ObservationAdapter(image_size, tuple(float(v) for v in hemisphere))
        act = ActionAdapter(position_scale, rotation_scale, robot.workspace_low, robot.workspace_high)
        neutral = (np.asarray(robot.home_tcp_position, float), quat_to_matrix(robot.home_tcp_quaternion))
        return cls(observe, act, neutral, max_observation_age)

    @classmethod
    def for_checkpoint(cls, checkpoint: dict, robot, max_observation_age: float = math.inf) -> PolicyCore:
        """The core for a checkpoint's observation and action spec on a robot profile."""
        observation, action = checkpoint["observation"], checkpoint["action"]
        return cls.for_robot(robot, observation["image_size"], action["position_scale"], action["rotation_scale"],
                             observation.get("neutral_quaternion", (0, 0, 0, 1)), max_observation_age)

    def age(self, stamps: dict, now: float) -> tuple[float, str]:
        """The oldest input's age, and the reason to skip the step if it is over the limit."""
        if not stamps:
            return 0.0, ""
        ages = {name: now - stamp for name, stamp in stamps.items()}
        oldest = max(ages.values())
        if oldest <= self.max_observation_age:
            return oldest, ""
        listed = ", ".join(f"{name} {1e3 * a:.0f} ms" for name, a in ages.items())
        return oldest, f"observation too old ({listed}; max {1e3 * self.max_observation_age:.0f} ms): not moving"

    def observe(self, reading: RobotReading) -> dict:
        """The model's observation: state always, the image and object position where measured."""
        observation = {"state": self.observe_adapter.state(reading.tcp_position, reading.tcp_quaternion,
                                                           reading.gripper_opening)}
        if reading.image is not None:
            observation["image"] = self.observe_adapter.image(reading.image)
        if reading.object_position is not None:
            observation["object_position"] = np.asarray(reading.object_position, np.float32)
        return observation

    def command(self, action, reading: RobotReading) -> Command:
        """The target for an action, relative to the TCP pose measured with the observation; an action
        that is not 7 or 8 finite values raises ActionError."""
        rotation = quat_to_matrix(reading.tcp_quaternion)
        return self.act_adapter.command(action, reading.tcp_position, rotation, self.neutral_pose)

    def step(self, model: Callable[[dict], np.ndarray], reading: RobotReading, now: float | None = None) -> PolicyStep:
        """The whole step. `model(observation) -> action`; `now` (the reading's clock) enables the age check.
        ObservationError (a frame of the wrong size, a missing object position) propagates."""
        age, too_old = self.age(reading.stamps, now) if now is not None else (0.0, "")
        if too_old:
            return PolicyStep(skipped=too_old, observation_age=age)
        action = np.asarray(model(self.observe(reading)), dtype=float)
        if not np.all(np.isfinite(action)):
            return PolicyStep(action=action, hold=f"the policy produced a non-finite action {np.round(action, 3)}",
                              observation_age=age)
        return PolicyStep(command=self.command(action, reading), action=action, observation_age=age)


__all__ = ["ActionError", "PolicyCore", "PolicyStep", "RobotReading"]
