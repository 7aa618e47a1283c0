"""`polyarm train --algo {bc,sac,cql,cql-si,plas,polytask,cog} --dataset PATH... --out DIR`: offline
training from `polyarm collect` datasets into policy-server checkpoints.

    polyarm train --algo cql --dataset data/panda_press --out runs/press_cql
    polyarm train --algo cog --dataset data/place_from_grasp --prior data/grasp_prior --out runs/cog
    polyarm train --algo cql-si --dataset data/press --dataset data/pick --out runs/press_pick_si
    polyarm train --algo polytask --dataset data/reach --dataset data/press --dataset data/pick --out runs/poly
    polyarm train --algo polytask --lifelong-from runs/poly --dataset data/place --out runs/poly4
    polyarm train ... --resume            (continue DIR from its last.pt)

Image datasets train COG's convolutional networks on 48x48 (or 64x64) images with random-crop
augmentation; state-only datasets (collected with --image-size 0), or --observation state, train
MLPs on the robot state plus the object position. Each --dataset is one task (in order, for cql-si
and polytask). Evaluation runs the policy in the dataset's Gymnasium env every --eval-every steps.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path


def build_parser() -> argparse.ArgumentParser:
    from polyarm_learning.recipes import CONFIGS

    p = argparse.ArgumentParser(prog="polyarm train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", required=True, choices=list(CONFIGS))
    p.add_argument("--dataset", type=Path, action="append", default=[], help="a task dataset; repeat for several tasks")
    p.add_argument("--prior", type=Path, action="append", default=[], help="cog: a prior dataset (rewards set to 0)")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.pt")
    p.add_argument("--steps", type=int, default=50_000, help="gradient steps (per task for cql-si and polytask experts)")
    p.add_argument("--observation", choices=["image", "state"], help="default: image if the dataset has images")
    p.add_argument("--hidden", help="hidden layer sizes, e.g. 256,256 (default: COG's 1024,512,256 for images, 256,256 for state)")
    p.add_argument("--feature-dim", type=int, default=0,
                   help="images: project the conv features to this width before the state and action join (0: COG's)")
    p.add_argument("--shared-encoder", action="store_true",
                   help="sac/cql/cql-si/cog: one image encoder for both critics and the actor, trained by the critic")
    p.add_argument("--conditioning", choices=["onehot", "embedding"], default="onehot", help="polytask's task input")
    p.add_argument("--perturbation", type=float, default=0.0, help="plas: range of the optional perturbation layer (0: none)")
    p.add_argument("--max-latent", type=float, default=2.0, help="plas: latent actions in [-max, max]")
    p.add_argument("--expert", type=Path, action="append", default=[], help="polytask: each task's expert checkpoint, in order")
    p.add_argument("--expert-algo", choices=["bc", "cql", "plas"], default="bc", help="polytask: trains missing experts with this")
    p.add_argument("--lifelong-from", type=Path, help="polytask: a previous polytask run whose tasks the new one keeps")
    p.add_argument("--reference-run", type=Path, action="append", default=[],
                   help="cql-si: single-task runs of each task, in order, for forward transfer (eq. 9)")
    run = p.add_argument_group("run")
    run.add_argument("--batch-size", type=int, default=256)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--no-augment", action="store_true", help="no random-crop augmentation of images")
    run.add_argument("--eval-every", type=int, default=5000)
    run.add_argument("--eval-episodes", type=int, default=10)
    run.add_argument("--eval-seed", type=int, default=100_000)
    run.add_argument("--log-every", type=int, default=100)
    run.add_argument("--save-every", type=int, default=5000)
    run.add_argument("--no-progress", action="store_true")
    hyper = p.add_argument_group("hyperparameters (defaults from the papers; see docs/architecture.md)")
    for name in sorted(_hyperparameter_names()):
        hyper.add_argument(f"--{name.replace('_', '-')}", type=_parse_value, dest=f"hp_{name}")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from policy_server.checkpoint import CheckpointError
    from polyarm_data.dataset import DatasetError

    try:
        summary = train(request_from(args))
    except (DatasetError, CheckpointError, FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"polyarm train: {err}", file=sys.stderr)
        return 2
    print(json.dumps(_short(summary), indent=2))
    return 0


def request_from(args: argparse.Namespace):
    """The parsed options as the TrainRequest the library takes (the hyperparameters given, by name)."""
    from polyarm_learning.recipes import TrainRequest

    options = {k: v for k, v in vars(args).items() if not k.startswith("hp_")}
    given = {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_") and v is not None}
    return TrainRequest(**options, hyperparameters=given)


def train(request) -> dict:
    """Run a TrainRequest (polyarm_learning.recipes)."""
    from polyarm_learning import polytask, recipes, sequential
    from polyarm_learning.allocator import keep_freed_memory

    keep_freed_memory()

    if request.out.exists() and any(request.out.iterdir()) and not request.resume:
        raise FileExistsError(f"{request.out} already holds a run; pass --resume to continue it, or choose another --out")
    if request.shared_encoder and request.algo not in ("sac", "cql", "cql-si", "cog"):
        raise ValueError(f"--shared-encoder is for the actor-critic algorithms (sac, cql, cql-si, cog), not {request.algo}")
    if request.algo == "polytask" and request.lifelong_from:
        return polytask.lifelong(request)
    if not request.dataset:
        raise ValueError("give at least one --dataset")
    if request.algo == "polytask":
        return polytask.polytask(request)
    trainer = recipes.trainer(request)
    summary = trainer.run(resume=request.resume)
    if request.algo == "cql-si":
        summary["sequential"] = sequential.sequential_report(request, trainer)
    return summary


def _hyperparameter_names() -> set[str]:
    from polyarm_learning.recipes import CONFIGS

    return {f.name for config in CONFIGS.values() for f in fields(config)}


def _parse_value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    raise argparse.ArgumentTypeError(f"not a number or true/false: {text!r}")


def _short(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("evaluations",)}


if __name__ == "__main__":
    sys.exit(main())
