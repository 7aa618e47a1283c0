"""Training speed: gradient steps per second of each algorithm on the same synthetic transitions, the
same networks and the same batch size, for state-based (MLP 256x256) and 48x48 image (COG's network)
policies. No peer here: d3rlpy 2.8.1 (the issue's peer) needs its own environment (it pins
gymnasium 1.0) and was not set up in this round; see docs/benchmarks.md.

    .venv/bin/python bench/bench_training.py [--steps 30] [--batch-size 256]
"""

from __future__ import annotations

import argparse
import time

import torch
from policy_server.models import Architecture
from policy_server.training.data import TransitionData
from policy_server.training.recipes import ALGORITHMS, CONFIGS


def synthetic(image_size: int, n: int = 4000, state_dim: int = 8) -> TransitionData:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n + 1, 3, image_size, image_size), dtype=torch.uint8, generator=g) if image_size else None
    return TransitionData(images, torch.randn(n + 1, state_dim, generator=g), torch.rand(n, 8, generator=g) * 2 - 1,
                          (torch.rand(n, generator=g) > 0.7).float(), torch.zeros(n), torch.arange(n), torch.arange(1, n + 1),
                          torch.zeros(n, dtype=torch.int64), {})


def steps_per_second(algo: str, arch: Architecture, data: TransitionData, batch_size: int, steps: int) -> float:
    config = CONFIGS[algo]()
    if hasattr(config, "bc_steps"):
        config.bc_steps = 0  # time the RL update, not the warm start
    if hasattr(config, "vae_steps"):
        config.vae_steps = 0
    algorithm = ALGORITHMS[algo](arch, config)
    augment = data.images is not None
    for i in range(3):
        algorithm.update(data.sample(batch_size, augment), i + 1)
    t0 = time.perf_counter()
    for i in range(steps):
        algorithm.update(data.sample(batch_size, augment), i + 4)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size}")
    print(f"{'observation':<14}{'algorithm':<10}{'steps/s':>10}{'ms/step':>10}")
    for label, arch in [("state (MLP)", Architecture(image_size=0, state_dim=11, hidden=(256, 256))),
                        ("48x48 image", Architecture(image_size=48, state_dim=8))]:
        data = synthetic(arch.image_size, state_dim=arch.state_dim)
        for algo in ("bc", "cql", "plas"):
            rate = steps_per_second(algo, arch, data, args.batch_size, args.steps)
            print(f"{label:<14}{algo:<10}{rate:>10.1f}{1e3 / rate:>10.1f}")


if __name__ == "__main__":
    main()
