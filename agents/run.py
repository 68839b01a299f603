"""The training run every trainer is written on (PPO, RL^2, MAML, NoRML): one loop, one resume.

``TrainingRun`` owns what a run is, as Stable-Baselines3's ``OnPolicyAlgorithm.learn()`` owns its
loop: the run directory and the config's identity, resuming, the iteration (the trainer's
``step()``, then the lineage snapshot, the metrics row, the resume point, in that order),
progress and TensorBoard. A trainer keeps only what is its own: what it builds, what one
iteration does, what its snapshots and resume point hold.

A run directory holds ``config.json`` (a run may be resumed only with the same config; its
length field may grow), ``metrics.csv`` (and ``tb/``), ``state.safetensors`` (the resume point)
and ``lineage/<name>/vNNNN.safetensors``. Optimiser states are stored as plain tensors
(``optim.<index>.<key>``) with the parameter groups in the metadata, so resuming never unpickles.

Env seeds come from ``env_seed`` only: a vector env seeds arena i with ``seed + i``, and
``env_seed`` spaces every reset of a run (and the runs of different seeds) so that no two arenas
ever start alike.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from agents.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from agents.lineage import Lineage
from agents.logger import MetricsLogger

SEED_SPREAD = 1_000_000_007  # env seeds of runs with different seeds: this far apart (a prime)


def env_seed(seed: int, reset: int, envs: int) -> int:
    """The seed of a run's ``reset``-th vector-env reset (counted from 0 over the whole run).

    Arena i of that reset starts from ``env_seed(...) + i``: consecutive resets step by the
    number of arenas, so no two arenas of a run share a start, and runs of different ``seed``
    lie ``SEED_SPREAD`` apart (a run would need a billion arena starts to reach the next seed's).
    A trainer that resets ``phases`` times per iteration uses ``reset = iteration * phases +
    phase``.
    """
    if reset < 0 or envs < 1:
        raise ValueError(f"env_seed needs reset >= 0 and envs >= 1, got {reset}, {envs}")
    if (reset + 1) * envs > SEED_SPREAD:
        raise ValueError(f"env_seed: reset {reset} of {envs} arenas leaves the run's seed range")
    return seed * SEED_SPREAD + reset * envs


def one_off_env_seed(seed: int, envs: int) -> int:
    """The seed of a run's one reset outside its iterations (e.g. a warm-up): the top of the
    run's range, which the iterations' resets (``env_seed``) do not reach."""
    return seed * SEED_SPREAD + SEED_SPREAD - envs


def check_counts(config: Any, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
    """Refuse a config whose ``names`` are not integers >= 1 (``optional`` ones may be None)."""
    for name in names + optional:
        value = getattr(config, name)
        if value is None and name in optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1"
                             f"{' or None' if name in optional else ''}, got {value!r}")


def check_positive(config: Any, names: tuple[str, ...]) -> None:
    """Refuse a config whose ``names`` are not > 0 (None, meaning a default, is accepted)."""
    for name in names:
        value = getattr(config, name)
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")


def check_run_config(run_dir: Path, config: dict[str, Any], resume: bool,
                     extendable: str, defaults: dict[str, Any] | None = None) -> str:
    """Refuse to mix two different runs in one directory; return the ``config.json`` text.

    The caller writes the text once the run is built, so that a run that fails to start leaves
    no config behind to block the directory.

    Args:
        run_dir: the run directory.
        config: the run's config as a JSON-ready dict.
        resume: whether an existing run may be continued.
        extendable: the field that may differ on resume (the run's length).
        defaults: the config class's defaults (as a dict): a stored config without a field
            added to the class since is read as holding its default.

    Raises:
        ValueError: the directory holds a run and ``resume`` is False, or it holds a run with
            another config (the message names the fields that differ).
    """
    path = run_dir / "config.json"
    mine = json.loads(json.dumps(config))
    defaults = json.loads(json.dumps(defaults)) if defaults is not None else None
    if (run_dir / "state.safetensors").exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run: resume it, or train into another "
                         "directory")
    if path.exists() and resume:
        stored = json.loads(path.read_text())
        if defaults is not None:  # fields added to the config since: they held their defaults
            stored = _with_defaults(stored, defaults)
        stored[extendable] = mine[extendable]
        if stored != mine:
            changed = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
            raise ValueError(f"{run_dir} holds a run with another config (differs in "
                             f"{', '.join(changed)}); use a new directory or the same config")
    return json.dumps(mine, indent=2) + "\n"


def _with_defaults(stored: Any, defaults: Any) -> Any:
    """``stored`` with every key of ``defaults`` it lacks filled in (recursively)."""
    if not (isinstance(stored, dict) and isinstance(defaults, dict)):
        return stored
    out = dict(stored)
    for key, value in defaults.items():
        out[key] = _with_defaults(out[key], value) if key in out else value
    return out


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], Any]:
    """The optimiser's state as ``optim.<index>.<key>`` tensors, and its parameter groups."""
    opt = optimizer.state_dict()
    tensors = {f"optim.{idx}.{key}": torch.as_tensor(value).clone()
               for idx, state in opt["state"].items() for key, value in state.items()}
    return tensors, json.loads(json.dumps(opt["param_groups"]))


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      param_groups: Any) -> None:
    """Load a state saved by ``optimizer_tensors``."""
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


STATE_FILE = "state.safetensors"


class TrainingRun:
    """A resumable training run: the loop and the run directory; a trainer fills in the rest.

    A trainer sets the class attributes and defines ``build()`` (envs, networks, optimizer,
    samplers: everything the resume point restores into), ``step()`` (one iteration's work),
    ``save_snapshot()``, ``state_tensors()`` / ``restore_tensors()`` and, where it has more
    random streams or counters, ``state_extra()`` / ``restore_extra()``. ``start()`` runs after
    a resume (e.g. samplers seeded from the iteration reached).

    Built here, before ``build()``: ``torch.manual_seed(config.seed)``, ``self.generator`` (a
    torch generator) and ``self.rng`` (numpy), both seeded with ``config.seed`` and saved with
    the resume point, ``self.lineage``, ``self.iteration`` and ``self.env_steps``.

    Attributes:
        STATE_KIND: the checkpoint kind of the resume point.
        KIND: the checkpoint kind of the snapshots.
        LENGTH: the config field that bounds the run (``"iterations"``, or ``"total_steps"``:
            env steps); the one field that may differ on resume.
        DESC: the progress bar's label.
        PROGRESS: metrics shown on the progress bar.
    """

    STATE_KIND: ClassVar[str]
    KIND: ClassVar[str]
    LENGTH: ClassVar[str] = "iterations"
    DESC: ClassVar[str] = "train"
    PROGRESS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any, run_dir: Path | str, resume: bool = True,
                 tensorboard: bool = True) -> None:
        self.config, self.run_dir = config, Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config_json = check_run_config(self.run_dir, self.identity(config), resume, self.LENGTH,
                                       self.identity_defaults())
        # Small networks gain nothing from intra-op threads, and threads that wait for a core
        # busy with physics make every small op take milliseconds.
        torch.set_num_threads(1)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.lineage = Lineage(self.run_dir / "lineage", self.run_dir.name)
        self.iteration, self.env_steps = 0, 0
        self.build()
        self.resumed = resume and (self.run_dir / STATE_FILE).exists()
        if self.resumed:
            self.load_state()
        self.start()
        self.logger = MetricsLogger(self.run_dir, tensorboard)
        self.logger.truncate_after(self.iteration)
        # Written only once everything was built: a failed start leaves no config behind.
        (self.run_dir / "config.json").write_text(config_json)

    # ------------------------------------------------------------ what a trainer defines

    def identity(self, config: Any) -> dict[str, Any]:
        """A config as it identifies the run (``config.json``; resuming must match it)."""
        return config.to_dict()

    def identity_defaults(self) -> dict[str, Any] | None:
        """The config class's defaults as ``identity`` gives them (resuming runs whose
        config.json predates a field), or None where the class has no default instance."""
        try:
            default = dataclasses.replace(self.config, **{
                f.name: (f.default if f.default is not dataclasses.MISSING
                         else f.default_factory())  # type: ignore[misc]
                for f in dataclasses.fields(self.config)
                if f.default is not dataclasses.MISSING
                or f.default_factory is not dataclasses.MISSING})
        except (TypeError, ValueError):
            return None
        return self.identity(default)

    def build(self) -> None:
        """Envs, networks, the optimizer (``self.optimizer``), task and opponent samplers."""
        raise NotImplementedError

    def start(self) -> None:
        """After the resume point was loaded (``self.resumed``) or not: what depends on the
        iteration reached, or happens once at the start of a new run."""

    def step(self) -> tuple[dict[str, float], int]:
        """One iteration's work: (its metrics, the env steps it took)."""
        raise NotImplementedError

    def save_snapshot(self, path: Path, meta: CheckpointMeta) -> Path:
        """Write the current agent to ``path`` (a lineage version) with ``meta``."""
        raise NotImplementedError

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The networks' tensors in the resume point (with their prefixes)."""
        raise NotImplementedError

    def restore_tensors(self, tensors: dict[str, torch.Tensor], path: Path) -> None:
        """Load what ``state_tensors`` saved."""
        raise NotImplementedError

    def state_extra(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """More random streams and counters for the resume point: (tensors, JSON values)."""
        return {}, {}

    def restore_extra(self, tensors: dict[str, torch.Tensor], extra: dict[str, Any]) -> None:
        """Restore what ``state_extra`` saved."""

    @property
    def kind(self) -> str:
        """The snapshots' checkpoint kind (``KIND`` unless it depends on the config)."""
        return self.KIND

    @property
    def body(self) -> str | None:
        return getattr(self.config, "body", None)

    @property
    def env_id(self) -> str | None:
        return getattr(self.config, "env", None)

    def meta_config(self) -> dict[str, Any]:
        """The ``config`` of the checkpoints' metadata."""
        return {"train": self.config.to_dict()}

    @property
    def snapshot_interval(self) -> int:
        """Iterations between lineage snapshots (the last iteration is always one)."""
        return self.config.snapshot_every

    # ------------------------------------------------------------ the loop

    @property
    def progress(self) -> int:
        """How far the run is, in the unit of ``LENGTH``."""
        return self.env_steps if self.LENGTH == "total_steps" else self.iteration

    @property
    def length(self) -> int:
        return getattr(self.config, self.LENGTH)

    @property
    def finished(self) -> bool:
        return self.progress >= self.length

    def run(self, progress: bool = True, callback: Callable[[dict], None] | None = None) -> None:
        """Iterate until the run's length; the resume point is saved after every iteration."""
        from agents.progress import progress_bar

        unit = "step" if self.LENGTH == "total_steps" else "iterations"
        bar = progress_bar(self.length, min(self.progress, self.length), unit, desc=self.DESC,
                           disable=not progress)
        try:
            while not self.finished:
                before = self.progress
                row = self.iterate()
                bar.update(min(self.progress, self.length) - before)
                bar.set_postfix({k: f"{row[k]:.3g}" for k in self.PROGRESS if k in row})
                if callback is not None:
                    callback(row)
        finally:
            bar.close()
            self.logger.close()

    def iterate(self) -> dict[str, float]:
        """One iteration: the trainer's step, the snapshot, the metrics row, the resume point.

        The row goes before the state: a stop in between resumes at the previous iteration,
        whose later rows the logger drops, so nothing is lost or counted twice.
        """
        start = time.perf_counter()
        metrics, steps = self.step()
        self.iteration += 1
        self.env_steps += int(steps)
        if self.iteration % self.snapshot_interval == 0 or self.finished:
            self.snapshot()
        row = {"iteration": self.iteration, "env_steps": self.env_steps, **metrics}
        row.setdefault("iteration_s", time.perf_counter() - start)
        self.logger.log(row)
        self.save_state()
        return row

    # ------------------------------------------------------------ checkpoints

    def meta(self, kind: str | None = None) -> CheckpointMeta:
        return CheckpointMeta(kind=kind or self.kind, body=self.body, env_id=self.env_id,
                              config=self.meta_config(),
                              extra={"iteration": self.iteration, "env_steps": self.env_steps,
                                     "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S")})

    def snapshot(self) -> Path:
        """Save the current agent as the lineage's version ``iteration``."""
        meta = dataclasses.replace(self.meta(), lineage=self.lineage.name, version=self.iteration)
        return self.save_snapshot(self.lineage.path(self.iteration), meta)

    def save_state(self) -> Path:
        """Everything needed to resume: networks, optimiser, generators, counters."""
        tensors = self.state_tensors()
        optim, groups = optimizer_tensors(self.optimizer)
        more_tensors, more = self.state_extra()
        tensors.update(optim)
        tensors.update(more_tensors)
        tensors["rng.torch"] = self.generator.get_state()
        meta = self.meta(self.STATE_KIND)
        extra = {**meta.extra, **more, "numpy_rng": self.rng.bit_generator.state,
                 "param_groups": groups}
        return save_checkpoint(self.run_dir / STATE_FILE, tensors,
                               dataclasses.replace(meta, extra=json.loads(json.dumps(extra))))

    def load_state(self) -> None:
        path = self.run_dir / STATE_FILE
        tensors, meta = load_checkpoint(path, expected_kind=self.STATE_KIND)
        self.restore_tensors(tensors, path)
        restore_optimizer(self.optimizer, tensors, meta.extra["param_groups"])
        self.generator.set_state(tensors["rng.torch"])
        if "numpy_rng" in meta.extra:  # resume points written before every run had one
            self.rng.bit_generator.state = meta.extra["numpy_rng"]
        self.iteration = int(meta.extra["iteration"])
        self.env_steps = int(meta.extra.get("env_steps", 0))
        self.restore_extra(tensors, meta.extra)


__all__ = ["SEED_SPREAD", "TrainingRun", "check_counts", "check_positive", "check_run_config",
           "env_seed", "one_off_env_seed", "optimizer_tensors", "restore_optimizer"]
