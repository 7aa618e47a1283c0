"""Offline data: polyarm (Minari-layout) datasets as transition tensors, minibatches, and COG's
random-crop image augmentation.

Observations are kept once per time step (N+1 per episode) and transitions index into them, so a
next image is not stored twice. The network's state is the robot state, plus the object position for
a state-based policy (policy_io.policy_state). Transitions bootstrap through truncations (COG's MDP
has no terminal states): `done` is the dataset's termination flag only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from polyarm_data.dataset import DatasetError, open_storage

EPISODE_KEYS = ("observations", "actions", "rewards", "terminations", "truncations")


@dataclass(frozen=True)
class Batch:
    image: torch.Tensor  # float B x 3 x S x S in [0, 1] (B x 3 x 1 x 1 zeros for state-based)
    state: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_image: torch.Tensor
    next_state: torch.Tensor
    done: torch.Tensor
    task: torch.Tensor  # int64 task index


@dataclass(frozen=True)
class TransitionData:
    images: torch.Tensor | None  # uint8 M x 3 x S x S, every observation of every episode
    states: torch.Tensor  # float32 M x d
    actions: torch.Tensor  # float32 N x A
    rewards: torch.Tensor  # float32 N
    dones: torch.Tensor  # float32 N
    current: torch.Tensor  # int64 N: index of s_t in images/states
    following: torch.Tensor  # int64 N: index of s_t+1
    tasks: torch.Tensor  # int64 N
    metadata: dict  # the dataset's polyarm metadata (robot, task, camera, action scale, ...)

    def __len__(self) -> int:
        return len(self.actions)

    def state_statistics(self, min_scale: float = 0.05) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and scale to standardise states; the scale's floor keeps a nearly constant input (the
        gripper during a reach) from amplifying noise."""
        return self.states.mean(0), self.states.std(0).clamp(min=min_scale)

    def with_actions(self, actions: torch.Tensor) -> TransitionData:
        return replace(self, actions=actions)

    def sample(self, batch_size: int, augment: bool = False, generator: torch.Generator | None = None) -> Batch:
        idx = torch.randint(len(self), (batch_size,), generator=generator)
        return self.batch(idx, augment, generator)

    def batch(self, idx: torch.Tensor, augment: bool = False, generator: torch.Generator | None = None) -> Batch:
        now, nxt = self.current[idx], self.following[idx]
        return Batch(self._images(now, augment, generator), self.states[now], self.actions[idx], self.rewards[idx],
                     self._images(nxt, augment, generator), self.states[nxt], self.dones[idx], self.tasks[idx])

    def _images(self, idx: torch.Tensor, augment: bool, generator) -> torch.Tensor:
        if self.images is None:
            return torch.zeros(len(idx), 3, 1, 1)
        images = self.images[idx].float().div_(255.0)
        return random_crop(images, generator=generator) if augment else images


def random_crop(images: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """COG's image augmentation (as in its rlkit code and DrQ): pad each image by `pad` pixels,
    repeating the border, and crop it back to its size at a random offset."""
    b, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]  # b x 1 x h x 1
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]  # b x 1 x 1 x w
    return padded[torch.arange(b)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def load_dataset(path: Path, image_size: int, state_keys: list[str], task: int = 0,
                 zero_rewards: bool = False) -> TransitionData:
    """A dataset's transitions for a policy with this image size (0: none) and these state keys.
    `zero_rewards` relabels every reward 0 (COG's prior data)."""
    path = Path(path)
    storage = open_storage(path)
    meta = storage.metadata.get("polyarm", {})
    n = storage.total_episodes
    if n == 0:
        raise DatasetError(f"{path} has no episodes")
    episodes = [_read_episode(storage, path, i) for i in range(n)]
    _check_keys(path, episodes[0], image_size, state_keys)
    if image_size and meta.get("image_size") not in (None, image_size):
        raise DatasetError(f"{path} holds {meta.get('image_size')}x{meta.get('image_size')} images; the policy takes {image_size}x{image_size}")
    images, states, actions, rewards, dones, current, following = [], [], [], [], [], [], []
    offset = 0
    for number, episode in enumerate(episodes):
        _check_keys(path, episode, image_size, state_keys, number)
        obs, steps = episode["observations"], len(episode["actions"])
        state = np.asarray(obs["state"], np.float32)
        if "object_position" in state_keys:
            state = np.concatenate([state, np.asarray(obs["object_position"], np.float32)], axis=1)
        if len(state) != steps + 1:
            raise DatasetError(f"{path} episode {number}: {len(state)} observations for {steps} actions (expected {steps + 1})")
        states.append(state)
        if image_size:
            image = np.asarray(obs["image"])
            if image.shape[1:] != (image_size, image_size, 3):
                raise DatasetError(f"{path} episode {number}: images are {image.shape[1:]}, the policy takes {(image_size, image_size, 3)}")
            images.append(image.transpose(0, 3, 1, 2))
        actions.append(np.asarray(episode["actions"], np.float32))
        rewards.append(np.zeros(steps, np.float32) if zero_rewards else np.asarray(episode["rewards"], np.float32))
        dones.append(np.asarray(episode["terminations"], np.float32))
        current.append(offset + np.arange(steps))
        following.append(offset + np.arange(1, steps + 1))
        offset += steps + 1
    return TransitionData(
        images=torch.from_numpy(np.concatenate(images)) if image_size else None,
        states=torch.from_numpy(np.concatenate(states)),
        actions=torch.from_numpy(np.clip(np.concatenate(actions), -1.0, 1.0)),
        rewards=torch.from_numpy(np.concatenate(rewards)),
        dones=torch.from_numpy(np.concatenate(dones)),
        current=torch.from_numpy(np.concatenate(current)).long(),
        following=torch.from_numpy(np.concatenate(following)).long(),
        tasks=torch.full((sum(len(a) for a in actions),), task, dtype=torch.int64),
        metadata={**meta, "path": str(path), "episodes": n},
    )


def concatenate(parts: list[TransitionData]) -> TransitionData:
    """One buffer of several datasets (COG's prior + task data; PolyTask's tasks)."""
    if len(parts) == 1:
        return parts[0]
    if len({p.actions.shape[1] for p in parts}) != 1:
        raise DatasetError(f"datasets have different action sizes: {[p.actions.shape[1] for p in parts]}")
    offsets = np.cumsum([0] + [len(p.states) for p in parts[:-1]])
    cat = torch.cat
    return TransitionData(
        images=None if parts[0].images is None else cat([p.images for p in parts]),
        states=cat([p.states for p in parts]), actions=cat([p.actions for p in parts]),
        rewards=cat([p.rewards for p in parts]), dones=cat([p.dones for p in parts]),
        current=cat([p.current + int(o) for p, o in zip(parts, offsets, strict=True)]),
        following=cat([p.following + int(o) for p, o in zip(parts, offsets, strict=True)]),
        tasks=cat([p.tasks for p in parts]), metadata=parts[0].metadata,
    )


def _read_episode(storage, path, number: int) -> dict:
    try:
        return next(iter(storage.get_episodes([number])))
    except KeyError as err:  # h5py: "... (object 'rewards' doesn't exist)"
        found = re.search(r"object '([^']+)'", str(err))
        raise DatasetError(f"{path} episode {number} is missing {found.group(1) if found else err}") from None


def _check_keys(path, episode: dict, image_size: int, state_keys: list[str], number: int = 0) -> None:
    missing = [k for k in EPISODE_KEYS if k not in episode]
    needed = ["state"] + (["image"] if image_size else []) + (["object_position"] if "object_position" in state_keys else [])
    missing += [f"observations/{k}" for k in needed if "observations" in episode and k not in episode["observations"]]
    if missing:
        raise DatasetError(f"{path} episode {number} is missing {', '.join(missing)}"
                           + (" (collected with --image-size 0? image policies need images)" if "observations/image" in missing else ""))
