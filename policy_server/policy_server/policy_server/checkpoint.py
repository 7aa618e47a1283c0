"""One checkpoint file per trained policy: plain data written with torch.save and read back with
torch.load(weights_only=True), so loading runs no pickled code. Validated on load; every error names
the problem.

    format_version  int (this code reads up to FORMAT_VERSION)
    algorithm       "sac" | "cql" | "plas" | "polytask" | "bc"
    architecture    Architecture as a dict
    observation     {"image_size", "state_keys", "image_normalization", "neutral_quaternion"}
    action          {"dim", "position_scale", "rotation_scale", "gripper", "neutral"}
    tasks           {"names": [...], "conditioning": "none" | "multihead" | "onehot" | "embedding"}
    state_dicts     {"actor" or "policy": ..., and whatever training keeps: critics, targets, cvae, ...}
    training        {"dataset", "steps", "seed", "metrics", ...}
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from polyarm_core.policy_io import OBJECT_KEYS, OBJECT_SIZE, STATE_KEYS, STATE_SIZE

from policy_server.models import DEPLOYED, Architecture

FORMAT_VERSION = 1
STATE_SIZES = {0: [], STATE_SIZE: STATE_KEYS, STATE_SIZE + OBJECT_SIZE: STATE_KEYS + OBJECT_KEYS}
IMAGE_NORMALIZATION = "uint8 HxWx3 -> float32 3xHxW / 255"
REQUIRED = ("format_version", "algorithm", "architecture", "observation", "action", "tasks", "state_dicts", "training")


class CheckpointError(ValueError):
    pass


def make_checkpoint(algorithm: str, arch: Architecture, state_dicts: dict, task_names: list[str],
                    position_scale: float = 0.05, rotation_scale: float = 0.2, training: dict | None = None,
                    neutral_quaternion=(0.0, 0.0, 0.0, 1.0)) -> dict:
    if algorithm not in DEPLOYED:
        raise CheckpointError(f"unknown algorithm {algorithm!r}; valid: {', '.join(DEPLOYED)}")
    return {
        "format_version": FORMAT_VERSION,
        "algorithm": algorithm,
        "architecture": arch.to_dict(),
        "observation": {"image_size": arch.image_size, "state_keys": list(STATE_SIZES.get(arch.state_dim, [])),
                        "image_normalization": IMAGE_NORMALIZATION,
                        # the state quaternion's sign is taken in this orientation's hemisphere (policy_io)
                        "neutral_quaternion": [float(v) for v in neutral_quaternion]},
        "action": {"dim": arch.action_dim, "position_scale": position_scale, "rotation_scale": rotation_scale,
                   "gripper": "close below -0.5, open above 0.5", "neutral": arch.action_dim == 8},
        "tasks": {"names": list(task_names), "conditioning": arch.conditioning},
        "state_dicts": {k: {n: t.detach().cpu() for n, t in sd.items()} for k, sd in state_dicts.items()},
        "training": dict(training or {}),
    }


def save(checkpoint: dict, path: Path) -> None:
    validate(checkpoint)
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".partial")
    torch.save(checkpoint, tmp)
    tmp.replace(path)  # a reader never sees a half-written checkpoint


def load(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, RuntimeError, EOFError, ValueError) as err:
        raise CheckpointError(f"checkpoint {path} is not a readable polyarm checkpoint: {str(err).splitlines()[0]}") from None
    validate(checkpoint, str(path))
    return checkpoint


def validate(checkpoint, where: str = "checkpoint") -> None:
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{where}: expected a dict of plain data, found {type(checkpoint).__name__}")
    missing = [k for k in REQUIRED if k not in checkpoint]
    if missing:
        raise CheckpointError(f"{where}: missing key(s) {missing}")
    version = checkpoint["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"{where}: format version {version} is newer than this polyarm reads ({FORMAT_VERSION}); update polyarm")
    algorithm = checkpoint["algorithm"]
    if algorithm not in DEPLOYED:
        raise CheckpointError(f"{where}: unknown algorithm {algorithm!r}; valid: {', '.join(DEPLOYED)}")
    try:
        arch = Architecture.from_dict(checkpoint["architecture"])
    except (TypeError, ValueError, KeyError) as err:
        raise CheckpointError(f"{where}: bad architecture: {err}") from None
    observation, tasks = checkpoint["observation"], checkpoint["tasks"]
    if observation.get("image_size") != arch.image_size:
        raise CheckpointError(f"{where}: observation image size {observation.get('image_size')} != architecture's {arch.image_size}")
    if arch.state_dim not in STATE_SIZES:
        raise CheckpointError(f"{where}: state size {arch.state_dim}; polyarm's state has {STATE_SIZE} values, "
                              f"{STATE_SIZE + OBJECT_SIZE} with the object position")
    if checkpoint["action"].get("dim") != arch.action_dim or arch.action_dim not in (7, 8):
        raise CheckpointError(f"{where}: action dimension {checkpoint['action'].get('dim')} (architecture {arch.action_dim}); must be 7 or 8")
    names = tasks.get("names", [])
    if len(names) != arch.num_tasks or tasks.get("conditioning") != arch.conditioning:
        raise CheckpointError(f"{where}: {len(names)} task names and conditioning {tasks.get('conditioning')!r} "
                              f"do not match the architecture ({arch.num_tasks} tasks, {arch.conditioning!r})")
    _, key = DEPLOYED[algorithm]
    if key not in checkpoint["state_dicts"]:
        raise CheckpointError(f"{where}: state_dicts has no {key!r} for a {algorithm} policy (has {sorted(checkpoint['state_dicts'])})")


def build_policy(checkpoint: dict) -> tuple[torch.nn.Module, Architecture]:
    """The deployed network with its weights, in eval mode; shape or key mismatches name the tensor."""
    arch = Architecture.from_dict(checkpoint["architecture"])
    network_type, key = DEPLOYED[checkpoint["algorithm"]]
    network = network_type(arch)
    state_dict = checkpoint["state_dicts"][key]
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{key} weights do not fit a {checkpoint['algorithm']} network: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, tensor in state_dict.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(f"{key} weight {name!r} has shape {tuple(tensor.shape)}, the architecture needs {tuple(expected[name].shape)}")
    network.load_state_dict(state_dict)
    return network.eval(), arch


def task_index(checkpoint: dict, task: str | None) -> int:
    names = checkpoint["tasks"]["names"]
    if task is None or task == "":
        if len(names) == 1:
            return 0
        raise CheckpointError(f"this checkpoint has {len(names)} tasks; choose one of {names}")
    if task not in names:
        raise CheckpointError(f"task {task!r} is not in this checkpoint; its tasks: {names}")
    return names.index(task)


def new_checkpoint(algorithm: str, arch: Architecture, task_names: list[str], seed: int = 0, **spec) -> dict:
    """A freshly initialised checkpoint of an algorithm family: the deployed network and, for the
    actor-critic families, twin critics; what training starts from (and what smoke tests drive)."""
    from policy_server.models import TwinQ

    if algorithm not in DEPLOYED:
        raise CheckpointError(f"unknown algorithm {algorithm!r}; valid: {', '.join(DEPLOYED)}")
    torch.manual_seed(seed)
    network_type, key = DEPLOYED[algorithm]
    state_dicts = {key: network_type(arch).state_dict()}
    if algorithm in ("sac", "cql", "plas"):
        state_dicts["critic"] = TwinQ(arch).state_dict()
    return make_checkpoint(algorithm, arch, state_dicts, task_names, training={"steps": 0, "seed": seed}, **spec)
