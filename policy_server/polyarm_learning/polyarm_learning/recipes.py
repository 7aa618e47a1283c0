"""What `polyarm train` builds for each algorithm: data, architecture, algorithm and stages. The reports
that go beyond one run are beside it: SAC-CQL-SI's in sequential.py, PolyTask's pipeline in polytask.py."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import torch
from policy_server.models import Architecture, set_state_normalization
from polyarm_core.policy_io import OBJECT_KEYS, STATE_KEYS
from polyarm_data.dataset import DatasetError, open_storage

from polyarm_learning.bc import BC, BCConfig, BehaviorDistillation
from polyarm_learning.cql import CQL, CQLConfig
from polyarm_learning.data import concatenate, load_dataset
from polyarm_learning.plas import PLAS, PLASConfig
from polyarm_learning.sac import SAC, SACConfig
from polyarm_learning.si import CQLSI, CQLSIConfig
from polyarm_learning.trainer import RunConfig, Spec, Stage, Trainer

CONFIGS = {"bc": BCConfig, "sac": SACConfig, "cql": CQLConfig, "cql-si": CQLSIConfig, "plas": PLASConfig,
           "polytask": BCConfig, "cog": CQLConfig}
ALGORITHMS = {"bc": BC, "sac": SAC, "cql": CQL, "cql-si": CQLSI, "plas": PLAS, "polytask": BehaviorDistillation, "cog": CQL}


@dataclass(frozen=True)
class TrainRequest:
    """What a training run is asked to do: `polyarm train`'s options (polyarm_learning.train documents each)."""

    algo: str
    out: Path
    dataset: list = field(default_factory=list)
    prior: list = field(default_factory=list)
    resume: bool = False
    steps: int = 50_000
    observation: str | None = None  # "image" or "state"; None: image if the data has images
    hidden: str | None = None  # "256,256"; None: per observation kind
    feature_dim: int = 0
    shared_encoder: bool = False
    conditioning: str = "onehot"
    perturbation: float = 0.0
    max_latent: float = 2.0
    expert: list = field(default_factory=list)
    expert_algo: str = "bc"
    lifelong_from: Path | None = None
    reference_run: list = field(default_factory=list)
    batch_size: int = 256
    seed: int = 0
    no_augment: bool = False
    eval_every: int = 5000
    eval_episodes: int = 10
    eval_seed: int = 100_000
    log_every: int = 100
    save_every: int = 5000
    no_progress: bool = False
    hyperparameters: dict = field(default_factory=dict)  # the algorithm's config fields that were given


# ---------------------------------------------------------------------- pieces
def hyperparameters(algo: str, request):
    config_type = CONFIGS[algo]
    names = {f.name for f in fields(config_type)}
    given = request.hyperparameters
    foreign = sorted(set(given) - names)
    if foreign:
        raise ValueError(f"{', '.join('--' + n.replace('_', '-') for n in foreign)} do(es) not apply to {algo}; "
                         f"its hyperparameters: {', '.join(sorted(names))}")
    return config_type(**given)


def dataset_metadata(path: Path) -> dict:
    meta = open_storage(path).metadata.get("polyarm")
    if not meta:
        raise DatasetError(f"{path} has no polyarm metadata (robot, task, action scale); was it written by `polyarm collect`?")
    return meta


def observation(request, metas: list[dict]) -> tuple[int, list[str]]:
    """(image size, state keys) of the policy: images if the data has them, unless --observation state."""
    sizes = {m.get("image_size", 0) for m in metas}
    if len(sizes) > 1:
        raise DatasetError(f"the datasets hold different image sizes {sorted(sizes)}; a policy takes one")
    size = sizes.pop()
    kind = request.observation or ("image" if size else "state")
    if kind == "image":
        if not size:
            raise DatasetError("the datasets hold no images (collected with --image-size 0); use --observation state")
        return size, list(STATE_KEYS)
    return 0, list(STATE_KEYS + OBJECT_KEYS)


def architecture(request, image_size: int, state_keys: list[str], action_dim: int, tasks: int, conditioning: str) -> Architecture:
    hidden = tuple(int(h) for h in request.hidden.split(",")) if request.hidden else ((1024, 512, 256) if image_size else (256, 256))
    state_dim = 8 + (3 if "object_position" in state_keys else 0)
    return Architecture(image_size=image_size, hidden=hidden, state_dim=state_dim, action_dim=action_dim,
                        num_tasks=tasks, conditioning=conditioning if tasks > 1 or conditioning == "multihead" else "none",
                        latent_dim=2 * action_dim, max_latent=request.max_latent, perturbation=request.perturbation,
                        feature_dim=request.feature_dim, shared_encoder=request.shared_encoder)


def neutral_quaternion(robot: str) -> tuple:
    """The hemisphere of the state quaternion: the arm's home orientation, as the env and the node use."""
    from polyarm_description import get_robot

    return tuple(float(v) for v in get_robot(robot).home_tcp_quaternion)


def run_config(request) -> RunConfig:
    return RunConfig(batch_size=request.batch_size, seed=request.seed, augment=not request.no_augment, eval_every=request.eval_every,
                     eval_episodes=request.eval_episodes, eval_seed=request.eval_seed, log_every=request.log_every,
                     save_every=request.save_every, progress=not request.no_progress)


def make_spec(algo: str, metas: list[dict], task_names: list[str], request, config, extra: dict | None = None) -> Spec:
    robots = {m["robot"] for m in metas}
    if len(robots) > 1:
        raise DatasetError(f"the datasets come from different arms {sorted(robots)}")
    scales = {tuple(m["action_scale"]) for m in metas}
    if len(scales) > 1:
        raise DatasetError(f"the datasets use different action scales {sorted(scales)}")
    position_scale, rotation_scale = scales.pop()
    robot = robots.pop()
    training = {"algo": algo, "datasets": [str(p) for p in request.dataset], "prior": [str(p) for p in request.prior],
                "hyperparameters": {f.name: getattr(config, f.name) for f in fields(config)},
                "dataset_spec": {"robot": robot, "camera": metas[0].get("camera"), "image_size": metas[0].get("image_size"),
                                 "action_scale": [position_scale, rotation_scale], "tasks": task_names},
                **(extra or {})}
    return Spec(robot, task_names, position_scale, rotation_scale, neutral_quaternion(robot), training)


# ---------------------------------------------------------------------- one run
def trainer(request) -> Trainer:
    algo = request.algo
    config = hyperparameters(algo, request)
    torch.manual_seed(request.seed)  # the networks' initial weights
    metas = [dataset_metadata(p) for p in request.dataset]
    prior_metas = [dataset_metadata(p) for p in request.prior]
    if request.prior and algo != "cog":
        raise ValueError("--prior datasets are for --algo cog")
    image_size, state_keys = observation(request, metas + prior_metas)
    task_names = list(dict.fromkeys(m["task"] for m in metas))
    if len(task_names) > 1 and algo != "cql-si":
        raise ValueError(f"{algo} trains one task, the datasets hold {task_names}; use cql-si or polytask for several")
    action_dim = dataset_action_dim(request.dataset + request.prior)
    conditioning = "multihead" if algo == "cql-si" else "none"
    arch = architecture(request, image_size, state_keys, action_dim, len(task_names), conditioning)
    data = [load_dataset(p, image_size, state_keys, task_names.index(m["task"])) for p, m in zip(request.dataset, metas, strict=True)]
    if algo == "cql-si":
        stages = [Stage(f"task {i + 1}: {name}", concatenate([d for d, m in zip(data, metas, strict=True) if m["task"] == name]),
                        request.steps, i) for i, name in enumerate(task_names)]
    else:
        prior = [load_dataset(p, image_size, state_keys, 0, zero_rewards=True) for p in request.prior]  # COG: reward 0
        stages = [Stage(task_names[0], concatenate(data + prior), request.steps)]
    spec = make_spec(algo, metas + prior_metas, task_names, request, config)
    return Trainer(request.out, normalized(ALGORITHMS[algo](arch, config), stages), stages, spec, run_config(request))


def normalized(algorithm, stages: list[Stage]):
    """Every network of the algorithm standardises states with the statistics of all its data."""
    mean, scale = concatenate([s.data for s in stages]).state_statistics()
    for network in algorithm.networks().values():
        set_state_normalization(network, mean, scale)
    return algorithm


def dataset_action_dim(paths: list[Path]) -> int:
    dims = {open_storage(p).action_space.shape[0] for p in paths}
    if len(dims) > 1:
        raise DatasetError(f"the datasets have different action sizes {sorted(dims)}")
    return dims.pop()
