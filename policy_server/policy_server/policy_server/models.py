"""The model zoo: the networks every algorithm deploys, shared with offline training.

The image encoder follows COG's simulated-experiment network (Appendix A.2): three 3x3 convolutions
of 16 channels (padding 1), max-pooling after the first two, flattened, with the proprio state
appended after the convolutions, then fully connected layers of 1024, 512 and 256.

A faster option for actor-critic training on images (DrQ/SAC-AE's arrangement): `feature_dim`
projects the flat convolutional features to a narrow layer-normalised vector before the state and
the action join, and `shared_encoder` gives both critics and the actor one encoder, trained by the
critic loss only (the actor's gradient stops at its features). The projection alone (own encoders)
saves little time, but on it image CQL held what its BC warm start had learnt (docs/benchmarks.md).

Every deployable network maps (image float32 B x 3 x S x S in [0, 1], state B x n, task index B) to
a deterministic action B x A in [-1, 1], so the node, ONNX export and evaluation treat them alike.
State-based policies (image_size 0) have no convolutions and ignore the image input; their state is
the robot's 8 values plus the object position (11).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

CONDITIONINGS = ("none", "multihead", "onehot", "embedding")


@dataclass(frozen=True)
class Architecture:
    image_size: int = 48  # 0: state-based, no camera
    channels: tuple = (16, 16, 16)
    hidden: tuple = (1024, 512, 256)
    state_dim: int = 8  # 0: image only (COG's simulated setting); 11: robot state + object position
    action_dim: int = 8
    num_tasks: int = 1
    conditioning: str = "none"  # multihead (SAC-CQL-SI), onehot or embedding (PolyTask, HCSAC)
    embedding_dim: int = 8
    latent_dim: int = 16  # PLAS: 2 x action dimension
    max_latent: float = 2.0  # PLAS: latent actions in [-max, max]
    perturbation: float = 0.0  # PLAS: residual range of the optional perturbation layer (0: none)
    feature_dim: int = 0  # images: project the conv features to this width (0: COG's flat features)
    shared_encoder: bool = False  # SAC/CQL: one encoder for both critics and the actor
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.image_size not in (0, 48, 64):
            raise ValueError(f"image size {self.image_size} not supported; use 48 or 64, or 0 for a state-based policy")
        if self.image_size == 0 and self.state_dim == 0:
            raise ValueError("a state-based policy (image size 0) needs a state")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"unknown task conditioning {self.conditioning!r}; valid: {', '.join(CONDITIONINGS)}")
        if self.num_tasks < 1:
            raise ValueError("num_tasks must be at least 1")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"], d["hidden"] = list(self.channels), list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Architecture:
        d = dict(d)
        d["channels"], d["hidden"] = tuple(d["channels"]), tuple(d["hidden"])
        return cls(**d)


def mlp(sizes: list[int], out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU(inplace=True)]  # in place: the Linear's output is needed by nothing else
    layers.append(nn.Linear(sizes[-1], out))
    return nn.Sequential(*layers)


class ImageEncoder(nn.Module):
    """COG's convolutional trunk; output: flattened features with the state appended. For a
    state-based architecture (image size 0) it passes the state through and ignores the image."""

    def __init__(self, arch: Architecture):
        super().__init__()
        c1, c2, c3 = arch.channels
        self.convs = nn.Sequential(
            nn.Conv2d(3, c1, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(inplace=True), nn.Flatten(),
        ) if arch.image_size else None
        if self.convs is not None:  # CPU convolutions and pooling run 2-10x faster channels-last than NCHW
            self.convs.to(memory_format=torch.channels_last)
        flat = c3 * (arch.image_size // 4) ** 2 if arch.image_size else 0
        self.projection = nn.Sequential(nn.Linear(flat, arch.feature_dim), nn.LayerNorm(arch.feature_dim), nn.Tanh()) \
            if flat and arch.feature_dim else None
        self.state_dim = arch.state_dim
        self.out_dim = (arch.feature_dim if self.projection else flat) + arch.state_dim
        # the state is standardised with the training data's statistics, kept in the checkpoint
        self.register_buffer("state_mean", torch.zeros(arch.state_dim))
        self.register_buffer("state_scale", torch.ones(arch.state_dim))

    def forward(self, image: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        if self.state_dim:
            state = (state - self.state_mean) / self.state_scale
        if self.convs is None:
            return state
        features = self.convs(image.contiguous(memory_format=torch.channels_last))
        if self.projection is not None:
            features = self.projection(features)
        return torch.cat([features, state], dim=1) if self.state_dim else features


def set_state_normalization(network: nn.Module, mean: torch.Tensor, scale: torch.Tensor) -> None:
    """Every encoder in `network` standardises its state input with this mean and scale."""
    for module in network.modules():
        if isinstance(module, ImageEncoder) and module.state_dim:
            module.state_mean.copy_(mean)
            module.state_scale.copy_(scale)


class TaskConditioning(nn.Module):
    """Appends the task to the features: a one-hot vector, a learned embedding, or nothing."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.kind, self.num_tasks = arch.conditioning, arch.num_tasks
        self.embedding = nn.Embedding(arch.num_tasks, arch.embedding_dim) if self.kind == "embedding" else None
        self.out_dim = {"onehot": arch.num_tasks, "embedding": arch.embedding_dim}.get(self.kind, 0)

    def forward(self, features: torch.Tensor, task: torch.Tensor) -> torch.Tensor:
        if self.kind == "onehot":
            return torch.cat([features, nn.functional.one_hot(task, self.num_tasks).to(features.dtype)], dim=1)
        if self.kind == "embedding":
            return torch.cat([features, self.embedding(task)], dim=1)
        return features


class TanhGaussianActor(nn.Module):
    """SAC/CQL actor: a Gaussian squashed by tanh; one head per task under multi-head conditioning
    (SAC-CQL-SI). Deployed deterministically: tanh of the mean."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.encoder = ImageEncoder(arch)
        self.detach_encoder = False  # training with an encoder shared with (and trained by) the critic
        self.condition = TaskConditioning(arch)
        self.heads = arch.num_tasks if arch.conditioning == "multihead" else 1
        self.action_dim = arch.action_dim
        self.trunk = mlp([self.encoder.out_dim + self.condition.out_dim, *arch.hidden], 2 * arch.action_dim * self.heads)

    def distribution(self, image, state, task, spread_trains_trunk: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-std (clamped to [-5, 2]) of the pre-tanh Gaussian of each sample's task head. The floor keeps
        log π finite where the data holds an action dimension constant (a reach never uses the gripper).
        With spread_trains_trunk False, log-std's gradient stops at the last layer (CQL's warm start on the mean)."""
        features = self.encoder(image, state)
        if self.detach_encoder:
            features = features.detach()
        hidden = self.trunk[:-1](self.condition(features, task))
        mean, log_std = self._task_head(self.trunk[-1](hidden), task)
        if not spread_trains_trunk:
            _, log_std = self._task_head(self.trunk[-1](hidden.detach()), task)
        return mean, log_std.clamp(-5.0, 2.0)

    def _task_head(self, out: torch.Tensor, task: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's (mean, log-std) from its task's head of the last layer's output."""
        out = out.view(-1, self.heads, 2 * self.action_dim)
        head = task if self.heads > 1 else torch.zeros_like(task)
        return out[torch.arange(out.shape[0]), head].split(self.action_dim, dim=1)

    def forward(self, image, state, task):
        mean, _ = self.distribution(image, state, task)
        return torch.tanh(mean)

    def share_encoder(self, encoder: ImageEncoder) -> None:
        """Use the critic's encoder, without training it (shared_encoder)."""
        self.encoder, self.detach_encoder = encoder, True

    def own_parameters(self) -> list[nn.Parameter]:
        """What the actor's optimiser trains: all but a shared encoder."""
        return [p for name, p in self.named_parameters() if not (self.detach_encoder and name.startswith("encoder."))]


class TwinQ(nn.Module):
    """Two Q-functions; the action joins after the convolutions (COG), each critic with its own
    encoder, or one encoder for both (shared_encoder).

    Scoring several actions per state (CQL: the data's and 3N negative samples), the first layer's
    product with [features, action] is computed as W_f features + W_a action, with W_f and W_a its two
    column blocks, so that a state's features pass W_f once, not once per action: on COG's image
    network W_f is 2312 wide against W_a's 8."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.encoders = nn.ModuleList([ImageEncoder(arch) for _ in range(1 if arch.shared_encoder else 2)])
        self.condition = TaskConditioning(arch)
        width = self.encoders[0].out_dim + self.condition.out_dim + arch.action_dim
        self.q = nn.ModuleList([mlp([width, *arch.hidden], 1), mlp([width, *arch.hidden], 1)])

    def features(self, image, state, task) -> list[torch.Tensor]:
        """Each critic's encoded observation: computed once and reused for many actions (CQL)."""
        features = [self.condition(enc(image, state), task) for enc in self.encoders]
        return features if len(features) == 2 else features * 2  # a shared encoder serves both critics

    def values(self, features: list[torch.Tensor], action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Q1 and Q2 of each state's action (action B x A: B values), or of each state's K actions (B x K x A: B x K)."""
        return tuple(q_value(q, f, action) for f, q in zip(features, self.q, strict=True))

    def first(self, image, state, task, action) -> torch.Tensor:
        """Q1 alone (TD3's and PLAS's actor objective): only the first critic's encoder runs."""
        return q_value(self.q[0], self.condition(self.encoders[0](image, state), task), action)

    def forward(self, image, state, task, action):
        return self.values(self.features(image, state, task), action)


def q_value(q: nn.Sequential, features: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
    """q([features, action]) of one Q-MLP for one action per state (action B x A), or for K (B x K x A): then
    its first layer is split into W_f features + b, once per state, plus W_a action, for each of the K."""
    if action.dim() == 2:
        return q(torch.cat([features, action], dim=1)).squeeze(1)
    first = q[0]
    w_features, w_action = first.weight.split([features.shape[1], action.shape[-1]], dim=1)
    hidden = nn.functional.linear(features, w_features, first.bias)[:, None] + nn.functional.linear(action, w_action)
    return q[1:](hidden).squeeze(-1)


class CVAE(nn.Module):
    """PLAS's behaviour model: q(z | s, a) and p(a | s, z), with p(z | s) = N(0, 1)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.encoder = ImageEncoder(arch)
        self.latent_dim = arch.latent_dim
        width = self.encoder.out_dim
        self.q_z = mlp([width + arch.action_dim, 750, 750], 2 * arch.latent_dim)
        self.p_a = mlp([width + arch.latent_dim, 750, 750], arch.action_dim)

    def encode(self, features, action):
        """q(z | s, a): mean and log std of the latent, from the state's features."""
        mean, log_std = self.q_z(torch.cat([features, action], dim=1)).split(self.latent_dim, dim=1)
        return mean, log_std.clamp(-4.0, 15.0)

    def decode(self, features, z):
        return torch.tanh(self.p_a(torch.cat([features, z], dim=1)))


class PLASPolicy(nn.Module):
    """PLAS: a latent actor z = max_latent * tanh(f(s)), the CVAE decoder a = p(a | s, z), and an
    optional perturbation layer adding a residual in [-phi, phi] (PLAS §2.4)."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.cvae = CVAE(arch)
        self.latent_actor = mlp([self.cvae.encoder.out_dim, *arch.hidden], arch.latent_dim)
        self.max_latent, self.phi = arch.max_latent, arch.perturbation
        self.perturb = mlp([self.cvae.encoder.out_dim + arch.action_dim, 400, 300], arch.action_dim) if self.phi > 0 else None

    def latent(self, features: torch.Tensor) -> torch.Tensor:
        """The latent action, bounded to [-max_latent, max_latent] by tanh."""
        return self.max_latent * torch.tanh(self.latent_actor(features))

    def forward(self, image, state, task):
        features = self.cvae.encoder(image, state)
        action = self.cvae.decode(features, self.latent(features))
        if self.perturb is not None:
            residual = self.phi * torch.tanh(self.perturb(torch.cat([features, action], dim=1)))
            action = (action + residual).clamp(-1.0, 1.0)
        return action


class ConditionedPolicy(nn.Module):
    """A deterministic policy, task-conditioned by one-hot or embedding: PolyTask's distilled
    policy (eq. 2 regresses it onto each task's expert) and, unconditioned, behaviour cloning."""

    def __init__(self, arch: Architecture):
        super().__init__()
        self.encoder = ImageEncoder(arch)
        self.condition = TaskConditioning(arch)
        self.net = mlp([self.encoder.out_dim + self.condition.out_dim, *arch.hidden], arch.action_dim)

    def forward(self, image, state, task):
        return torch.tanh(self.net(self.condition(self.encoder(image, state), task)))


# algorithm -> (the deployed network, the state-dict entry it is stored under)
DEPLOYED = {
    "sac": (TanhGaussianActor, "actor"),
    "cql": (TanhGaussianActor, "actor"),
    "plas": (PLASPolicy, "policy"),
    "polytask": (ConditionedPolicy, "policy"),
    "bc": (ConditionedPolicy, "policy"),
}
