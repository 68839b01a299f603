"""Pieces shared by training runs (PPO, MAML, RL^2, NoRML): config files and resume state.

A run directory holds ``config.json``; a run may be resumed only with the same config (its
length field may grow). Optimiser states are stored as plain tensors in ``state.safetensors``
(``optim.<index>.<key>``) with the parameter groups in the metadata, so resuming never unpickles.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch


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
                     extendable: str) -> str:
    """Refuse to mix two different runs in one directory; return the ``config.json`` text.

    The caller writes the text once the run is built, so that a run that fails to start leaves
    no config behind to block the directory.

    Args:
        run_dir: the run directory.
        config: the run's config as a JSON-ready dict.
        resume: whether an existing run may be continued.
        extendable: the field that may differ on resume (the run's length).

    Raises:
        ValueError: the directory holds a run and ``resume`` is False, or it holds a run with
            another config (the message names the fields that differ).
    """
    path = run_dir / "config.json"
    mine = json.loads(json.dumps(config))
    if (run_dir / "state.safetensors").exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run: resume it, or train into another "
                         "directory")
    if path.exists() and resume:
        stored = json.loads(path.read_text())
        stored[extendable] = mine[extendable]
        if stored != mine:
            changed = sorted(k for k in set(stored) | set(mine) if stored.get(k) != mine.get(k))
            raise ValueError(f"{run_dir} holds a run with another config (differs in "
                             f"{', '.join(changed)}); use a new directory or the same config")
    return json.dumps(mine, indent=2) + "\n"


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


__all__ = ["check_run_config", "optimizer_tensors", "restore_optimizer"]
