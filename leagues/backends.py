"""Executors by name: ``make_executor("local" | "ray", ...)``.

The factory lives apart from both executors so that neither imports the other: ``executors``
holds the interface and the in-process executor, ``ray_executor`` Ray's (imported only when a Ray
executor is made, so that ray stays optional).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leagues.executors import Executor, InProcessExecutor, PlayFn, RayConfig
from leagues.games import play_game


def _make_local(workers: int = 1, address: str | None = None, **kwargs: Any) -> Executor:
    if workers != 1 or address is not None:
        raise ValueError("the local backend plays one game at a time in this process; "
                         "use the ray backend for --workers > 1 or --address")
    return InProcessExecutor(**kwargs)


def _make_ray(workers: int = 1, address: str | None = None, play: PlayFn = play_game,
              **kwargs: Any) -> Executor:
    from leagues.ray_executor import RayExecutor

    return RayExecutor(RayConfig(workers=workers, address=address, **kwargs), play=play)


EXECUTORS: dict[str, Callable[..., Executor]] = {"local": _make_local, "ray": _make_ray}


def make_executor(backend: str = "local", workers: int = 1, address: str | None = None,
                  **kwargs: Any) -> Executor:
    """An executor by name.

    Args:
        backend: "local" (in-process) or "ray".
        workers: parallel games (Ray only).
        address: a running Ray cluster to join (Ray only; default: start a local one).
        **kwargs: ``play`` for either; other ``RayConfig`` fields for Ray.

    Raises:
        ValueError: for an unknown backend (the message lists the known ones) or bad options.
    """
    if backend not in EXECUTORS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(EXECUTORS)}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return EXECUTORS[backend](workers=workers, address=address, **kwargs)
