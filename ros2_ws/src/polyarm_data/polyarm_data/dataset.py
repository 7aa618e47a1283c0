"""Offline-RL datasets in Minari's layout, written with Minari's own storage.

A dataset is a directory; its `data/` holds Minari's `metadata.json` and `main_data.hdf5` (episode
groups with observations N+1, actions, rewards, terminations, truncations and infos), so
`minari.MinariDataset(PATH / "data")` opens it, and it can live under a Minari root as `PATH`'s name.
uint8 images are stored as they are (Minari's default JPEG encoding is turned off: it is lossy). polyarm's own metadata (robot, task, camera,
action scale, seed, ...) is under the "polyarm" key.

An episode is kept in memory until it is complete and then written in one call that opens, appends
to and closes the file, so stopping a collection mid-episode loses only that episode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import minari
import numpy as np
from minari.data_collector.episode_buffer import EpisodeBuffer
from minari.dataset.minari_storage import MinariStorage


class DatasetError(ValueError):
    pass


def data_dir(path: Path) -> Path:
    return Path(path).absolute() / "data"  # Minari joins relative paths twice


def create_or_open(path: Path, observation_space, action_space, metadata: dict, append: bool) -> MinariStorage:
    path = Path(path)
    if path.exists() and not append:
        raise DatasetError(f"{path} already exists; pass --append to add episodes to it, or choose a new path")
    if append and path.exists():
        storage = open_storage(path)
        existing = storage.metadata.get("polyarm", {})
        for key in ("robot", "task", "prior", "image_size", "action_scale"):
            if key in existing and existing[key] != metadata.get(key):
                raise DatasetError(f"cannot append: the dataset's {key} is {existing[key]!r}, this collection's is {metadata.get(key)!r}")
        if storage.observation_space != observation_space or storage.action_space != action_space:
            raise DatasetError("cannot append: observation or action space differs from the dataset's")
        return storage
    data_dir(path).mkdir(parents=True)
    # jpeg_encoding=False: Minari JPEG-encodes image spaces by default, which is lossy
    storage = MinariStorage.new(data_dir(path), observation_space=observation_space, action_space=action_space,
                                data_format="hdf5", jpeg_encoding=False)
    storage.update_metadata({"dataset_id": path.name, "minari_version": minari.__version__, "polyarm": metadata,
                             "algorithm_name": metadata.get("policy", "")})
    return storage


def open_storage(path: Path) -> MinariStorage:
    try:
        return MinariStorage.read(data_dir(path))
    except ValueError as err:
        raise DatasetError(f"{path} is not a polyarm/Minari dataset: {err}") from None


@dataclass
class Episode:
    """One episode being recorded: observations N+1, everything else N (infos N+1, as Minari keeps them)."""

    seed: int | None
    observations: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    terminations: list = field(default_factory=list)
    truncations: list = field(default_factory=list)
    infos: list = field(default_factory=list)

    def start(self, observation: dict, info: dict) -> None:
        self.observations.append(observation)
        self.infos.append(info)

    def step(self, action, observation, reward, terminated, truncated, info) -> None:
        self.actions.append(np.asarray(action, dtype=np.float32))
        self.observations.append(observation)
        self.rewards.append(float(reward))
        self.terminations.append(bool(terminated))
        self.truncations.append(bool(truncated))
        self.infos.append(info)

    def buffer(self) -> EpisodeBuffer:
        return EpisodeBuffer(
            seed=self.seed,
            observations={k: np.stack([o[k] for o in self.observations]) for k in self.observations[0]},
            actions=np.stack(self.actions),
            rewards=self.rewards,
            terminations=self.terminations,
            truncations=self.truncations,
            infos={k: np.stack([np.asarray(i[k]) for i in self.infos]) for k in self.infos[0]},
        )


def summary(path: Path) -> dict:
    storage = open_storage(path)
    meta = storage.metadata
    n = meta.get("total_episodes", 0)
    successes, lengths = [], []
    for episode in storage.get_episodes(range(n)) if n else []:
        lengths.append(len(episode["rewards"]))
        successes.append(bool(np.any(episode["infos"]["success"])))
    size = sum(f.stat().st_size for f in data_dir(path).iterdir())
    return {
        "path": str(path),
        "episodes": n,
        "steps": meta.get("total_steps", 0),
        "success_rate": float(np.mean(successes)) if successes else 0.0,
        "mean_episode_length": float(np.mean(lengths)) if lengths else 0.0,
        "size_mb": size / 1e6,
        "observation_space": str(storage.observation_space),
        "action_space": str(storage.action_space),
        "polyarm": meta.get("polyarm", {}),
    }


def format_summary(info: dict) -> str:
    p = info["polyarm"]
    lines = [
        f"dataset      {info['path']}",
        f"robot/task   {p.get('robot')} / {p.get('task')}  ({'prior data, rewards 0' if p.get('prior') else 'task data, labelled'})",
        f"episodes     {info['episodes']}  ({info['steps']} steps, {info['mean_episode_length']:.1f} per episode)",
        f"success      {100 * info['success_rate']:.1f}% of episodes (from infos)",
        f"observation  {info['observation_space']}",
        f"action       {info['action_space']}  scale {p.get('action_scale')}",
        f"camera       {p.get('camera')}",
        f"collected by {p.get('policy')} (noise {p.get('noise')}), seeds from {p.get('seed')}, in {p.get('sim', 'mujoco')}",
        f"size         {info['size_mb']:.1f} MB",
    ]
    return "\n".join(lines)


def dumps(metadata: dict) -> str:
    return json.dumps(metadata, indent=2, default=str)
