"""The original RoboSumo policies (openai/robosumo, 2018), converted to our checkpoints.

The original zoo ships one flat float32 vector per policy, ``<body>/<mlp|lstm>/agent-params-v<k>
.npy``, the TensorFlow variables of ``robosumo/policy_zoo/policy.py`` in creation order. With D the
observation size and A the action size:

- both kinds start with the return filter (sum, sumsq, count: 3 scalars, used for the value only)
  and the observation filter (sum [D], sumsq [D], count): mean = sum / count, std =
  sqrt(max(sumsq / count - mean^2, 1e-2)), z = clip((obs - mean) / std, -5, 5);
- MLP (8517 + 130 D + 66 A values): value vffc1 w [D, 64], b, vffc2 w [64, 64], b, vffinal w
  [64, 1], b; policy polfc1, polfc2, polfinal w [64, A], b [A]; logstd [A]; tanh hidden layers;
- LSTM (66245 + 130 D + 66 A values): value fc w [D, 64], b (ReLU), LSTM kernel [128, 256], bias
  [256], final w [64, 1], b; policy fc, LSTM kernel, bias, final w [64, A], b; logstd [A]. The cell
  is TensorFlow's BasicLSTMCell: [i, j, f, o] = split([x, h] @ kernel + bias, 4), c' = c *
  sigmoid(f + 1) + sigmoid(i) * tanh(j), h' = tanh(c') * sigmoid(o); the state is zeroed at each
  episode start.

The action is N(mean, exp(logstd)^2), sampled as the original demo plays (``deterministic=True``
gives the mean). Converted checkpoints keep the original tensors under their original names and
record the source file's name and SHA-256, so that the computation is the original one and its
provenance is checkable.

The original repository has no license file: these weights are an evaluation yardstick that a
user converts from their own copy. The project never ships them, nor anything trained against,
initialised from or distilled from them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.checkpoint import (
    CheckpointError,
    CheckpointMeta,
    check_shapes,
    load_checkpoint,
    save_checkpoint,
)
from agents.nets import log_prob
from agents.policy import ActOutput

ARCHS = ("mlp", "lstm")
KINDS = {arch: f"robosumo-{arch}" for arch in ARCHS}
HIDDEN = 64  # every original policy has 64 units per layer
OBS_CLIP = 5.0  # z-scores clipped to [-5, 5]
MIN_VAR = 1e-2  # the filters' variance floor: std = sqrt(max(var, 1e-2))
FORGET_BIAS = 1.0  # BasicLSTMCell's default
SOURCE_FILE = re.compile(r"^agent-params-v(\d+)\.npy$")


def layout(arch: str, obs_dim: int, act_dim: int) -> list[tuple[str, tuple[int, ...]]]:
    """Names and shapes of the flat vector's pieces, in order (the TensorFlow variables)."""
    d, a, h = obs_dim, act_dim, HIDDEN
    filters = [("retfilter.sum", ()), ("retfilter.sumsq", ()), ("retfilter.count", ()),
               ("obsfilter.sum", (d,)), ("obsfilter.sumsq", (d,)), ("obsfilter.count", ())]
    if arch == "mlp":
        nets = [("vffc1.w", (d, h)), ("vffc1.b", (h,)), ("vffc2.w", (h, h)), ("vffc2.b", (h,)),
                ("vffinal.w", (h, 1)), ("vffinal.b", (1,)),
                ("polfc1.w", (d, h)), ("polfc1.b", (h,)), ("polfc2.w", (h, h)),
                ("polfc2.b", (h,)), ("polfinal.w", (h, a)), ("polfinal.b", (a,))]
    elif arch == "lstm":
        nets = []
        for branch, out in (("v", 1), ("pol", a)):
            nets += [(f"{branch}.fc.w", (d, h)), (f"{branch}.fc.b", (h,)),
                     (f"{branch}.lstm.kernel", (2 * h, 4 * h)), (f"{branch}.lstm.bias", (4 * h,)),
                     (f"{branch}.final.w", (h, out)), (f"{branch}.final.b", (out,))]
    else:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    return filters + nets + [("logstd", (a,))]


def param_count(arch: str, obs_dim: int, act_dim: int) -> int:
    """Length of the flat vector: 8517 + 130 D + 66 A (MLP), 66245 + 130 D + 66 A (LSTM)."""
    return sum(int(np.prod(shape)) for _, shape in layout(arch, obs_dim, act_dim))


def unflatten(flat: np.ndarray, arch: str, obs_dim: int, act_dim: int,
              where: str = "the parameters") -> dict[str, torch.Tensor]:
    """Split a flat float32 vector into the named tensors of ``layout``.

    Raises:
        ValueError: the vector is not 1-D float32 of exactly the layout's length.
    """
    flat = np.asarray(flat)
    expected = param_count(arch, obs_dim, act_dim)
    if flat.dtype != np.float32 or flat.ndim != 1:
        raise ValueError(f"{where}: expected a 1-D float32 vector, got {flat.dtype} of shape "
                         f"{flat.shape}")
    if flat.size != expected:
        raise ValueError(f"{where}: {flat.size} values, but an original {arch} policy with "
                         f"observation size {obs_dim} and action size {act_dim} has {expected}")
    if not np.isfinite(flat).all():
        raise ValueError(f"{where}: holds non-finite values")
    out, start = {}, 0
    for name, shape in layout(arch, obs_dim, act_dim):
        size = int(np.prod(shape))
        out[name] = torch.from_numpy(flat[start:start + size].reshape(shape).copy())
        start += size
    return out


def _filter(total: torch.Tensor, sumsq: torch.Tensor, count: torch.Tensor):
    """Mean and std of a RunningMeanStd filter, in float32 as the original computes them."""
    mean = total / count
    std = torch.sqrt(torch.clamp(sumsq / count - mean.square(), min=MIN_VAR))
    return mean, std


def _tf_lstm(x: torch.Tensor, c: torch.Tensor, h: torch.Tensor, kernel: torch.Tensor,
             bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of TensorFlow's BasicLSTMCell ``[B, in]``: returns (c', h')."""
    i, j, f, o = torch.chunk(torch.cat([x, h], dim=-1) @ kernel + bias, 4, dim=-1)
    c = c * torch.sigmoid(f + FORGET_BIAS) + torch.sigmoid(i) * torch.tanh(j)
    return c, torch.tanh(c) * torch.sigmoid(o)


class OriginalPolicy(nn.Module):
    """An original RoboSumo policy, computed as the original TensorFlow graph computes it.

    It offers the acting interface of ``agents.policy.Policy`` (``act``, ``initial_state``,
    ``recurrent``, ``obs_dim``, ``act_dim``), so it plays wherever our policies play; it is not
    meant for training.

    Args:
        arch: "mlp" or "lstm".
        tensors: the named tensors of ``layout(arch, obs_dim, act_dim)``.
    """

    def __init__(self, arch: str, tensors: dict[str, torch.Tensor]) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        self.arch = arch
        self.obs_dim = int(tensors["obsfilter.sum"].shape[0])
        self.act_dim = int(tensors["logstd"].shape[0])
        for name, value in tensors.items():
            self.register_buffer(name.replace(".", "__"), value.to(torch.float32).clone())
        mean, std = _filter(self.t("obsfilter.sum"), self.t("obsfilter.sumsq"),
                            self.t("obsfilter.count"))
        self.register_buffer("obs_mean", mean, persistent=False)
        self.register_buffer("obs_std", std, persistent=False)

    def t(self, name: str) -> torch.Tensor:
        """The original tensor ``name`` (e.g. ``"polfc1.w"``)."""
        return getattr(self, name.replace(".", "__"))

    def tensors(self) -> dict[str, torch.Tensor]:
        """The original tensors by their names, for saving."""
        return {name: self.t(name) for name, _ in layout(self.arch, self.obs_dim, self.act_dim)}

    @property
    def recurrent(self) -> bool:
        return self.arch == "lstm"

    def initial_state(self, batch: int) -> torch.Tensor | None:
        """Zero state ``[4, B, 64]`` stacking (c_v, h_v, c_pol, h_pol); None for MLPs."""
        return torch.zeros(4, batch, HIDDEN) if self.recurrent else None

    def normalize(self, obs: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(obs, dtype=torch.float32)
        return torch.clamp((x - self.obs_mean) / self.obs_std, -OBS_CLIP, OBS_CLIP)

    def _value_scale(self, value_z: torch.Tensor) -> torch.Tensor:
        mean, std = _filter(self.t("retfilter.sum"), self.t("retfilter.sumsq"),
                            self.t("retfilter.count"))
        return value_z * std + mean

    def step(self, z: torch.Tensor, state: torch.Tensor | None):
        """Mean action ``[B, A]``, value ``[B]`` and next state for normalised obs ``[B, D]``."""
        if self.arch == "mlp":
            v = torch.tanh(z @ self.t("vffc1.w") + self.t("vffc1.b"))
            v = torch.tanh(v @ self.t("vffc2.w") + self.t("vffc2.b"))
            value = (v @ self.t("vffinal.w") + self.t("vffinal.b"))[:, 0]
            p = torch.tanh(z @ self.t("polfc1.w") + self.t("polfc1.b"))
            p = torch.tanh(p @ self.t("polfc2.w") + self.t("polfc2.b"))
            return p @ self.t("polfinal.w") + self.t("polfinal.b"), value, None
        outs, new = [], []
        for k, branch in enumerate(("v", "pol")):
            x = torch.relu(z @ self.t(f"{branch}.fc.w") + self.t(f"{branch}.fc.b"))
            c, h = _tf_lstm(x, state[2 * k], state[2 * k + 1], self.t(f"{branch}.lstm.kernel"),
                            self.t(f"{branch}.lstm.bias"))
            outs.append(h @ self.t(f"{branch}.final.w") + self.t(f"{branch}.final.b"))
            new += [c, h]
        return outs[1], outs[0][:, 0], torch.stack(new)

    @torch.no_grad()
    def act(self, obs: np.ndarray, state: torch.Tensor | None = None,
            starts: np.ndarray | None = None, deterministic: bool = False,
            generator: torch.Generator | None = None) -> ActOutput:
        """Actions for raw observations ``[B, D]``; ``starts [B]`` zeroes those streams' state."""
        z = self.normalize(obs)
        b = z.shape[0]
        if self.recurrent:
            state = self.initial_state(b) if state is None else state.clone()
            if starts is not None:
                state[:, torch.as_tensor(np.asarray(starts, dtype=bool))] = 0.0
        mean, value_z, state = self.step(z, state)
        log_std = self.t("logstd")
        if deterministic:
            action = mean
        else:
            action = mean + log_std.exp() * torch.randn(mean.shape, generator=generator)
        return ActOutput(action.double().numpy(), log_prob(mean, log_std, action).numpy(),
                         self._value_scale(value_z).numpy(), z, state)


def source_info(path: Path) -> tuple[str, str, int]:
    """Body, arch and version of ``<body>/<mlp|lstm>/agent-params-v<k>.npy``.

    Raises:
        ValueError: the path does not follow that layout.
    """
    from envs.robosumo import BODIES

    match = SOURCE_FILE.match(path.name)
    arch, body = path.parent.name, path.parent.parent.name
    if match is None or arch not in ARCHS or body not in BODIES:
        raise ValueError(f"{path}: expected <body>/<mlp|lstm>/agent-params-v<k>.npy with body "
                         f"one of {', '.join(BODIES)}")
    return body, arch, int(match.group(1))


def read_npy(path: Path) -> np.ndarray:
    """A ``.npy`` array, never unpickled (object arrays are refused)."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        raise ValueError(f"{path}: not a plain numeric .npy array ({err})") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read as .npy ({err})") from None


def convert(src_file: Path, out_file: Path, source_name: str | None = None) -> Path:
    """Convert one original ``.npy`` policy into our checkpoint ``out_file``.

    Args:
        src_file: ``<body>/<mlp|lstm>/agent-params-v<k>.npy``.
        out_file: the ``.safetensors`` file to write.
        source_name: the provenance name recorded (default: ``<body>/<arch>/<file name>``).
    """
    from envs.robosumo.gym_env import gym_id

    body, arch, version = source_info(src_file)
    obs_dim, act_dim = sizes(body)
    flat = read_npy(src_file)
    tensors = unflatten(flat, arch, obs_dim, act_dim, where=str(src_file))
    digest = hashlib.sha256(src_file.read_bytes()).hexdigest()
    meta = CheckpointMeta(
        kind=KINDS[arch], body=body, env_id=gym_id(body, body),
        config={"robosumo": {"arch": arch, "obs_dim": obs_dim, "act_dim": act_dim,
                             "hidden": HIDDEN, "activation": "tanh" if arch == "mlp" else "relu",
                             "obs_clip": OBS_CLIP, "min_var": MIN_VAR,
                             "forget_bias": FORGET_BIAS}},
        extra={"source": source_name or f"{body}/{arch}/{src_file.name}", "sha256": digest,
               "original_version": version, "origin": "openai/robosumo policy_zoo (2018)"})
    return save_checkpoint(out_file, tensors, meta)


def import_robosumo(src: Path | str, out: Path | str) -> list[Path]:
    """Convert every ``SRC/<body>/<mlp|lstm>/agent-params-v<k>.npy`` into
    ``OUT/robosumo-<body>-<arch>-v<k>.safetensors``.

    Raises:
        ValueError: SRC is not a directory or holds no original policy.
    """
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise ValueError(f"{src} is not a directory; expected the original policy_zoo/assets "
                         "folder with <body>/<mlp|lstm>/agent-params-v<k>.npy")
    files = sorted(src.glob("*/*/agent-params-v*.npy"))
    written = []
    for f in files:
        try:
            body, arch, version = source_info(f.relative_to(src))
        except ValueError:
            continue
        written.append(convert(f, out / f"robosumo-{body}-{arch}-v{version}.safetensors"))
    if not written:
        raise ValueError(f"{src} holds no <body>/<mlp|lstm>/agent-params-v<k>.npy files")
    return written


def sizes(body: str) -> tuple[int, int]:
    """Observation and action sizes of a body in RoboSumo (120/8, 164/12, 208/16)."""
    from envs.bodies import body_info
    from envs.robosumo.core import observation_space

    return observation_space(body).shape[0], body_info(body).n_joints


def _config(meta: CheckpointMeta, path: Path) -> dict[str, Any]:
    from envs.robosumo import BODIES

    config = meta.config.get("robosumo")
    if not isinstance(config, dict) or config.get("arch") not in ARCHS:
        raise CheckpointError(f"{path}: config does not describe an original RoboSumo policy")
    if meta.body not in BODIES:
        raise CheckpointError(f"{path}: body {meta.body!r} is not one of {', '.join(BODIES)}")
    obs_dim, act_dim = sizes(meta.body)
    if (config.get("obs_dim"), config.get("act_dim")) != (obs_dim, act_dim):
        raise CheckpointError(f"{path}: a {meta.body} has observation/action sizes "
                              f"{obs_dim}/{act_dim}, the config says "
                              f"{config.get('obs_dim')}/{config.get('act_dim')}")
    return config


def load_original(path: Path | str) -> tuple[OriginalPolicy, CheckpointMeta]:
    """Load a converted original policy (shapes checked against its body before building)."""
    path = Path(path)
    tensors, meta = load_checkpoint(path)
    if meta.kind not in KINDS.values():
        raise CheckpointError(f"{path} is of kind {meta.kind!r}, expected one of "
                              f"{', '.join(KINDS.values())}")
    config = _config(meta, path)
    check_shapes(tensors, dict(layout(config["arch"], config["obs_dim"], config["act_dim"])),
                 path)
    for name, tensor in tensors.items():
        if tensor.dtype != torch.float32:
            raise CheckpointError(f"{path}: tensor {name!r} is {tensor.dtype}, expected float32")
    return OriginalPolicy(config["arch"], tensors).eval(), meta


def load_agent(path: Path, meta: CheckpointMeta, seed: int | None, **kwargs: Any):
    from agents.base import PolicyAgent

    policy, meta = load_original(path)
    return PolicyAgent(policy, name=path.stem, body=meta.body, seed=seed, meta=meta, **kwargs)
