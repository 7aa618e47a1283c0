"""A checkpoint's specification (everything but its weights) read without torch, for processes that only
need to know what a checkpoint is: the launch file and `polyarm up` take its task names and camera from it,
and must not pull torch into the launch process.

A torch.save file is a zip holding a pickle (`*/data.pkl`) whose tensors point at separate storage records.
This unpickler builds the plain data and leaves each tensor as a TensorShape; like
torch.load(weights_only=True) it refuses any other class, so reading a file runs no pickled code.
"""

from __future__ import annotations

import collections
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path


class SpecError(ValueError):
    pass


@dataclass(frozen=True)
class TensorShape:
    """Where the checkpoint holds a tensor: its shape only."""

    shape: tuple


def _tensor(storage, offset, size, *rest) -> TensorShape:
    return TensorShape(tuple(size))


class _SpecUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name.startswith("_rebuild_tensor"):
            return _tensor
        if module == "torch" and (name.endswith("Storage") or name in ("float32", "float64", "int64", "uint8", "bool")):
            return name  # a dtype or storage type: only named, never built
        raise pickle.UnpicklingError(f"{module}.{name} is not plain checkpoint data")

    def persistent_load(self, pid):
        return None  # the tensor's bytes: not read


def read_spec(path) -> dict:
    """The checkpoint's plain data, its tensors as TensorShape (SpecError names what is wrong)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"checkpoint {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("/data.pkl")), None)
            if name is None:
                raise SpecError(f"checkpoint {path} holds no data.pkl: not a torch.save file")
            checkpoint = _SpecUnpickler(archive.open(name)).load()
    except (zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as err:
        raise SpecError(f"checkpoint {path} is not a readable polyarm checkpoint: {err}") from None
    if not isinstance(checkpoint, dict) or "tasks" not in checkpoint:
        raise SpecError(f"checkpoint {path} is not a polyarm checkpoint (no task spec)")
    return checkpoint
