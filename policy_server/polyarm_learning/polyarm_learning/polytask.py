"""PolyTask's pipeline (behaviour distillation): an expert per task, relabel every dataset with its
expert's actions, distill one policy for all tasks (eq. 2), and compare it with the experts; and the
lifelong mode, which distills again with new tasks and reports the forgetting."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from polyarm_data.dataset import DatasetError

from polyarm_learning import recipes
from polyarm_learning.bc import BehaviorDistillation, relabel
from polyarm_learning.data import concatenate, load_dataset
from polyarm_learning.recipes import (
    architecture,
    dataset_action_dim,
    dataset_metadata,
    hyperparameters,
    make_spec,
    normalized,
    observation,
    run_config,
)
from polyarm_learning.trainer import Stage, Trainer


def polytask(request, previous: dict | None = None) -> dict:
    """Learn (an expert per task, trained here unless given), relabel, distill (eq. 2)."""
    from policy_server.checkpoint import build_policy, load
    from policy_server.runtime import Policy

    from polyarm_learning.evaluate import evaluate

    request.out.mkdir(parents=True, exist_ok=True)
    datasets = list(previous["datasets"]) if previous else []
    experts = list(previous["experts"]) if previous else []
    datasets += [str(p) for p in request.dataset]
    new_experts = [str(p) for p in request.expert]
    if new_experts and len(new_experts) != len(request.dataset):
        raise ValueError(f"{len(new_experts)} --expert for {len(request.dataset)} --dataset; give one per dataset or none")
    for i, path in enumerate(request.dataset):
        experts.append(new_experts[i] if new_experts else str(_train_expert(request, path)))
    metas = [dataset_metadata(Path(p)) for p in datasets]
    task_names = [m["task"] for m in metas]
    if len(set(task_names)) != len(task_names):
        raise DatasetError(f"polytask needs one dataset per task; got {task_names}")
    image_size, state_keys = observation(request, metas)
    parts = []
    for i, (path, expert_path) in enumerate(zip(datasets, experts, strict=True)):
        expert_checkpoint = load(expert_path)
        spec = expert_checkpoint["observation"]
        if spec["image_size"] != image_size or spec["state_keys"] != state_keys:
            raise ValueError(f"expert {expert_path} sees {spec['image_size']} px images and {spec['state_keys']}, "
                             f"the unified policy {image_size} px and {state_keys}")
        network, _ = build_policy(expert_checkpoint)
        parts.append(relabel(load_dataset(Path(path), image_size, state_keys, i), network))
    config = hyperparameters("polytask", request)
    torch.manual_seed(request.seed)
    arch = architecture(request, image_size, state_keys, dataset_action_dim([Path(p) for p in datasets]), len(task_names), request.conditioning)
    run_request = replace(request, dataset=[Path(p) for p in datasets])
    spec = make_spec("polytask", metas, task_names, run_request, config, {"polytask": {"datasets": datasets, "experts": experts}})
    stages = [Stage("distill", concatenate(parts), request.steps)]
    trainer = Trainer(request.out, normalized(BehaviorDistillation(arch, config), stages), stages, spec, run_config(request))
    summary = trainer.run(resume=request.resume)
    unified = Policy(load(request.out / "best.pt"), task=task_names[0])
    rows = {}
    for name, expert_path in zip(task_names, experts, strict=True):
        expert_rate = evaluate(Policy(load(expert_path)), spec.robot, name, request.eval_episodes, request.eval_seed).rate
        unified.set_task(name)
        rows[name] = {"expert": expert_rate, "unified": evaluate(unified, spec.robot, name, request.eval_episodes, request.eval_seed).rate}
    expert_total, unified_total = sum(r["expert"] for r in rows.values()), sum(r["unified"] for r in rows.values())
    summary["polytask"] = {"per_task": rows, "expert_cumulative": expert_total, "unified_cumulative": unified_total,
                           "ratio": unified_total / expert_total if expert_total else None}
    (request.out / "polytask.json").write_text(json.dumps(summary["polytask"], indent=2))
    return summary


def lifelong(request) -> dict:
    """PolyTask's lifelong mode: the previous run's tasks plus the new ones, distilled again; the
    forgetting is each old task's success before minus after."""
    from policy_server.checkpoint import load

    previous_path = Path(request.lifelong_from) / "best.pt"
    previous = load(previous_path)["training"].get("polytask")
    if previous is None:
        raise ValueError(f"{previous_path} is not a polytask run")
    before = json.loads((Path(request.lifelong_from) / "polytask.json").read_text())["per_task"]
    summary = polytask(request, previous)
    after = summary["polytask"]["per_task"]
    summary["lifelong"] = {"forgetting": {t: before[t]["unified"] - after[t]["unified"] for t in before},
                           "before": {t: before[t]["unified"] for t in before}, "after": {t: r["unified"] for t, r in after.items()}}
    (request.out / "lifelong.json").write_text(json.dumps(summary["lifelong"], indent=2))
    return summary


def _train_expert(request, dataset: Path) -> Path:
    task = dataset_metadata(dataset)["task"]
    out = request.out / "experts" / task
    expert_request = replace(request, algo=request.expert_algo, dataset=[dataset], prior=[], out=out,
                               resume=request.resume and (out / "last.pt").exists())
    if not expert_request.resume and (out / "best.pt").exists():
        return out / "best.pt"  # trained by an earlier, interrupted polytask run
    print(f"polytask: training the {task} expert ({request.expert_algo}) in {out}")
    recipes.trainer(expert_request).run(resume=expert_request.resume)
    return out / "best.pt"
