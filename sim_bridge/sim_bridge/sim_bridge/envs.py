"""Gymnasium environments: one per task and arm, with the policy I/O of docs/architecture.md.

Each step turns the action into a controller target through PolicyCore (polyarm_core.policy_core, the
step the policy node runs on the robot), then runs the controller's own core (ControllerCore, the one
the controller node runs) at 100 Hz for one policy period on the MuJoCo physics; the observation is
the scene camera's frame through the same PolicyCore. Evaluation in sim and deployment are the same loop.

Every observation also carries `object_position`, the task object's ground-truth position (what
perception's `object_pose` gives on the robot), so state-based policies train from the same datasets.
`image_size=0` makes a state-only env that never renders: fast collection for state-based training.

    import gymnasium, sim_bridge.envs
    env = gymnasium.make("polyarm/PandaPressButton-v0")
    env = gymnasium.make("polyarm/PandaPressButton-v0", backend="pybullet")
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from polyarm_control.config import default_config
from polyarm_core.policy_core import PolicyCore, RobotReading
from polyarm_core.policy_io import STATE_HIGH, STATE_LOW, Command
from polyarm_core.rotations import matrix_to_quat
from polyarm_description import ROBOTS, get_robot

from sim_bridge.camera import CameraConfig
from sim_bridge.controlled import ControlledSim
from sim_bridge.mujoco_sim import MujocoSim
from sim_bridge.tasks import TASKS, make_task

BACKENDS = ("mujoco", "pybullet")


class PolyarmEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(self, robot: str = "panda", task: str = "press_button", image_size: int = 48,
                 episode_length: int | None = None, area_cm2: float = 360.0, density: float = 10.0,
                 camera_width: int = 160, camera_height: int = 120, position_scale: float = 0.05,
                 rotation_scale: float = 0.2, neutral_action: bool = True, policy_rate_hz: float = 2.0,
                 neutral_quaternion: tuple | None = None, render_mode: str | None = None, backend: str = "mujoco"):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        self.robot, self.backend = get_robot(robot), backend
        self.task = make_task(task, self.robot, area_cm2, density)
        self.episode_length = episode_length or self.task.default_episode_length
        self.camera = CameraConfig.for_robot(self.robot, width=camera_width, height=camera_height)
        config = default_config(self.robot.name)
        self.loop = ControlledSim(self.robot, config, sim=make_sim(backend, self.robot, self.camera, self.task))
        self.ticks_per_step = round(config.rate_hz / policy_rate_hz)
        # the state quaternion's hemisphere: the arm's home orientation, or what a checkpoint was trained with
        self.core = PolicyCore.for_robot(self.robot, image_size, position_scale, rotation_scale, neutral_quaternion)
        self.observe, self.act = self.core.observe_adapter, self.core.act_adapter
        self.render_mode = render_mode
        observation_spaces = {
            "state": spaces.Box(STATE_LOW, STATE_HIGH, dtype=np.float32),
            "object_position": spaces.Box(-2.0, 2.0, (3,), np.float32),
        }
        if image_size:
            observation_spaces["image"] = spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
        self.observation_space = spaces.Dict(observation_spaces)
        self.action_space = spaces.Box(-1.0, 1.0, (8 if neutral_action else 7,), np.float32)
        self._renderer = None
        self._frame = None
        self._steps = 0
        self.on_tick = None  # called as on_tick(loop, tick_output) after each 100 Hz tick (e.g. to record it)

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.loop.reset(self.np_random)
        self._steps = 0
        return self._observation(), self._info()

    def step(self, action):
        return self.apply(self.core.command(action, self.reading))  # relative to the pose measured with the observation

    def apply(self, command: Command):
        """The rest of a step once PolicyCore has made the action a command (polyarm_learning.evaluate runs
        PolicyCore.step, the policy node's step, and applies its command here)."""
        self.loop.set_target(command.position, command.rotation)
        if command.gripper is not None:
            self.loop.sim.command_gripper(command.gripper)
        self.loop.run(self.ticks_per_step / self.loop.config.rate_hz, on_tick=self.on_tick)
        self._steps += 1
        observation, info = self._observation(), self._info()
        reward = 1.0 if info["success"] else 0.0
        return observation, reward, False, self._steps >= self.episode_length, info

    def render(self):
        return self._frame

    def close(self):
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
        self.loop.sim.close()

    # ----------------------------------------------------------------- helpers
    def _observation(self) -> dict:
        sim = self.loop.sim
        position, rotation = self.loop.tcp()
        object_position, _ = sim.object_pose()
        if self.observe.image_size:
            if self._renderer is None:
                self._renderer = sim.renderer(self.camera)
            self._frame, _ = self._renderer.render(sim.data.qpos, sim.data.mocap_pos, sim.data.mocap_quat)
        self.reading = RobotReading(position, matrix_to_quat(rotation), sim.gripper_opening,
                                    image=self._frame if self.observe.image_size else None,
                                    object_position=object_position)
        return self.core.observe(self.reading)

    def _info(self) -> dict:
        sim = self.loop.sim
        position, _ = sim.object_pose()
        return {"success": bool(sim.success()), "object_position": position, "tcp_position": self.loop.tcp()[0]}


def make_sim(backend: str, robot, camera, task):
    """The simulated arm of `backend` with the scene camera and the task."""
    if backend == "pybullet":
        from sim_bridge.pybullet_sim import PybulletSim  # pybullet loads only when asked for

        return PybulletSim(robot, camera, task=task)
    return MujocoSim(robot, camera, task=task)


def rollout(env: PolyarmEnv, act, seed: int) -> bool:
    """One episode from a seeded reset, `act(observation, info) -> action` choosing each step; True if
    the task succeeded on any step."""
    observation, info = env.reset(seed=seed)
    success = False
    for _ in range(env.episode_length):
        observation, reward, terminated, truncated, info = env.step(act(observation, info))
        success |= info["success"]
        if terminated or truncated:
            break
    return success


def env_id(robot: str, task: str) -> str:
    camel = "".join(part.capitalize() for part in task.split("_"))
    return f"polyarm/{robot.capitalize().replace('Xarm7', 'XArm7')}{camel}-v0"


def register_all() -> list[str]:
    ids = []
    for task_name, task_type in TASKS.items():
        for robot in ROBOTS:
            if robot in task_type.robots():
                ids.append(env_id(robot, task_name))
                if ids[-1] not in gym.registry:
                    gym.register(ids[-1], entry_point="sim_bridge.envs:PolyarmEnv",
                                 kwargs={"robot": robot, "task": task_name})
    return ids


ENV_IDS = register_all()
