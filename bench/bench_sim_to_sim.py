"""The sim-to-sim gap: checkpoints trained in MuJoCo, evaluated in MuJoCo and in pybullet on the same seeds.

The checkpoints: the two committed ones (demo/panda_press_button.pt, from 48x48 images; demo/panda_pick_state.pt,
state), and state-based BC on reach and press_button trained here from 40 scripted MuJoCo episodes each, with the
round-one test's settings (tests/conftest.py, BC_REACH_ARGS). Each is evaluated by `polyarm evaluate`'s loop
(polyarm_learning.evaluate) on seeds SEED..SEED+N-1, which no training episode used, in both engines. It also
writes one frame of the image policy's scene from each engine, side by side, with the 48x48 observations
(docs/img/sim_to_sim_frames.png).

    .venv/bin/python bench/bench_sim_to_sim.py [--episodes 20] [--seed 1000] [--work /tmp/sim_to_sim]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sim_bridge.rendering import configure_gl_backend

configure_gl_backend()

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from policy_server.checkpoint import load  # noqa: E402
from policy_server.runtime import Policy  # noqa: E402
from polyarm_learning.evaluate import checkpoint_env, evaluate  # noqa: E402
from polyarm_learning.train import main as train  # noqa: E402
from sim_bridge.collect import main as collect  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BC_ARGS = ["--algo", "bc", "--steps", "3000", "--batch-size", "64", "--eval-every", "3000", "--eval-episodes", "0", "--no-progress"]


def trained_here(task: str, work: Path) -> Path:
    data, run = work / f"{task}_state", work / f"{task}_bc"
    if not (run / "last.pt").exists():
        assert collect(["--robot", "panda", "--task", task, "--episodes", "40", "--out", str(data), "--image-size", "0"]) == 0
        assert train([*BC_ARGS, "--dataset", str(data), "--out", str(run)]) == 0
    return run / "last.pt"


def side_by_side_frames(checkpoint: Path, seed: int, out: Path) -> None:
    """The image policy's first observation in each engine: the camera frame and the 48x48 image it sees."""
    spec = load(str(checkpoint))
    rows = []
    for sim in ("mujoco", "pybullet"):
        env = checkpoint_env(spec, "panda", "press_button", sim)
        observation, _ = env.reset(seed=seed)
        frame = env.render()
        small = cv2.resize(observation["image"], (frame.shape[0], frame.shape[0]), interpolation=cv2.INTER_NEAREST)
        row = np.concatenate([frame, small], axis=1)
        cv2.putText(row, sim, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
        rows.append(row)
        env.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/sim_to_sim"))
    parser.add_argument("--cog-checkpoint", type=Path,
                        help="a COG stitching checkpoint (place_in_tray from the table; docs/benchmarks.md) to add")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = [
        ("reach", "state BC (40 demos, trained here)", trained_here("reach", args.work)),
        ("press_button", "state BC (40 demos, trained here)", trained_here("press_button", args.work)),
        ("pick", "state BC (demo/panda_pick_state.pt)", ROOT / "demo" / "panda_pick_state.pt"),
        ("press_button", "48x48 image BC (demo/panda_press_button.pt)", ROOT / "demo" / "panda_press_button.pt"),
    ]
    if args.cog_checkpoint:
        rows.append(("place_in_tray", f"COG stitching, state CQL ({args.cog_checkpoint.name})", args.cog_checkpoint))
    print(f"Panda, seeds {args.seed}-{args.seed + args.episodes - 1}, {args.episodes} episodes per cell\n")
    print("| task | checkpoint | MuJoCo | pybullet | pybullet / MuJoCo | s per episode (MuJoCo, pybullet) |")
    print("|---|---|---:|---:|---:|---|")
    for task, what, path in rows:
        policy = Policy(load(str(path)), "torch", None)
        results = {}
        for sim in ("mujoco", "pybullet"):
            t0 = time.perf_counter()
            result = evaluate(policy, "panda", task, args.episodes, args.seed, sim=sim)
            results[sim] = (result.successes, (time.perf_counter() - t0) / args.episodes)
        (m, tm), (p, tp) = results["mujoco"], results["pybullet"]
        ratio = f"{p / m:.2f}" if m else "-"
        print(f"| {task} | {what} | {m}/{args.episodes} | {p}/{args.episodes} | {ratio} | {tm:.1f}, {tp:.1f} |", flush=True)
    frames = ROOT / "docs" / "img" / "sim_to_sim_frames.png"
    side_by_side_frames(ROOT / "demo" / "panda_press_button.pt", args.seed, frames)
    print(f"\nwrote {frames}")


if __name__ == "__main__":
    main()
