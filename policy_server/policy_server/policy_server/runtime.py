"""A loaded policy behind one call, on torch or ONNX Runtime: adapted observation in, action out.

    policy = Policy.load("ckpt.pt", backend="onnx", task="pick")
    action = policy.act(observation)   # {"image", "state", "object_position"} -> float32 [-1, 1]^A

The image is the ObservationAdapter's uint8 S x S x 3; normalization to float 3 x S x S / 255 happens
here, the same for every backend. A state-based policy gets a 1 x 1 placeholder image it ignores.
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch
from polyarm_core.policy_io import policy_state

from policy_server.checkpoint import CheckpointError, build_policy, load, task_index

BACKENDS = ("torch", "onnx")


PLACEHOLDER_IMAGE = np.zeros((1, 1, 3), np.uint8)  # what a state-based policy gets for an image


def network_inputs(image: np.ndarray | None, state: np.ndarray, task: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    image = PLACEHOLDER_IMAGE if image is None else image
    image = np.ascontiguousarray(np.asarray(image, dtype=np.float32).transpose(2, 0, 1)[None] / 255.0)
    return image, np.asarray(state, dtype=np.float32)[None], np.array([task], dtype=np.int64)


class Policy:
    def __init__(self, checkpoint: dict, backend: str = "torch", task: str | None = None, source: str = "checkpoint"):
        if backend not in BACKENDS:
            raise CheckpointError(f"unknown backend {backend!r}; valid: {', '.join(BACKENDS)}")
        self.checkpoint, self.backend, self.source = checkpoint, backend, source
        self.network, self.arch = build_policy(checkpoint)
        self.task = task_index(checkpoint, task)
        self._session = _onnx_session(self.network, self.arch) if backend == "onnx" else None

    @classmethod
    def load(cls, path, backend: str = "torch", task: str | None = None) -> Policy:
        return cls(load(path), backend, task, str(path))

    @property
    def task_names(self) -> list[str]:
        return list(self.checkpoint["tasks"]["names"])

    def set_task(self, task: str) -> None:
        self.task = task_index(self.checkpoint, task)

    @property
    def state_keys(self) -> list[str]:
        return list(self.checkpoint["observation"]["state_keys"])

    @property
    def needs_image(self) -> bool:
        return self.arch.image_size > 0

    def act(self, observation: dict) -> np.ndarray:
        """The action for an adapted observation dict (image, state, object_position)."""
        image = observation["image"] if self.needs_image else None
        return self(image, policy_state(observation, self.state_keys))

    def __call__(self, image: np.ndarray | None, state: np.ndarray) -> np.ndarray:
        image_in, state_in, task_in = network_inputs(image, state[: self.arch.state_dim] if self.arch.state_dim else state, self.task)
        if self._session is None:
            with torch.inference_mode():
                out = self.network(torch.from_numpy(image_in), torch.from_numpy(state_in), torch.from_numpy(task_in)).numpy()
        else:
            feeds = {"image": image_in, "state": state_in, "task": task_in}
            out = self._session.run(None, {i.name: feeds[i.name] for i in self._session.get_inputs()})[0]
        return out[0]


def export_onnx(network: torch.nn.Module, arch, path: Path) -> Path:
    """ONNX of the deployed network: inputs image (B,3,S,S), state (B,n), task (B,) int64; output action."""
    side = arch.image_size or 1  # state-based: the placeholder image
    image = torch.zeros(1, 3, side, side)
    state = torch.zeros(1, max(arch.state_dim, 1))
    task = torch.zeros(1, dtype=torch.int64)
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated in torch 2.13 but exact here (tested)
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (image, state, task), str(path), dynamo=False, input_names=["image", "state", "task"],
                          output_names=["action"], dynamic_axes={n: {0: "batch"} for n in ("image", "state", "task", "action")},
                          opset_version=17)
    return Path(path)


def _onnx_session(network, arch):
    import onnxruntime

    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(network, arch, Path(tmp) / "policy.onnx")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # the node runs one inference at a time; leave the cores to the robot
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_main(argv: list[str] | None = None) -> int:
    """`polyarm export CKPT --onnx [--out PATH]`: write the policy as ONNX and check it against torch."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="polyarm export", description=export_main.__doc__)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--onnx", action="store_true", required=True, help="export to ONNX (the one format for now)")
    parser.add_argument("--out", type=Path, help="output path (default: CHECKPOINT with .onnx)")
    args = parser.parse_args(argv)
    try:
        checkpoint = load(args.checkpoint)
        network, arch = build_policy(checkpoint)
    except CheckpointError as err:
        print(f"polyarm export: {err}", file=sys.stderr)
        return 2
    out = args.out or args.checkpoint.with_suffix(".onnx")
    export_onnx(network, arch, out)
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (arch.image_size or 1, arch.image_size or 1, 3), dtype=np.uint8)
    state = rng.normal(size=max(arch.state_dim, 1)).astype(np.float32)
    feeds = dict(zip(("image", "state", "task"), network_inputs(image, state, 0), strict=True))
    onnx_out = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
    with torch.inference_mode():
        torch_out = network(*(torch.from_numpy(feeds[k]) for k in ("image", "state", "task"))).numpy()
    error = float(np.abs(onnx_out - torch_out).max())
    print(f"wrote {out}: {checkpoint['algorithm']} policy, max |onnx - torch| = {error:.2e} on a random observation")
    return 0 if error <= 1e-5 else 1
