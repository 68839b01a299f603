"""Games on Ray workers: a local Ray started with N CPUs, or a running cluster (``address``).

This is the only module that imports ray, and only when a ``RayExecutor`` is made, so the rest of
the package works without ray installed. Each game is one Ray task (``num_cpus=1``): a worker
that dies is replaced and its game retried by Ray (``max_retries``); a game whose worker keeps
dying comes back as a ``GameFailure`` and the league goes on.

Ray 2.60 turns on token authentication by default and keeps it under the home directory; a local
run sets ``RAY_AUTH_MODE=disabled`` unless it is set, and keeps its session files in a fresh short
temporary directory (Ray's unix sockets need a short path).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from leagues.executors import (
    Executor,
    GameFailure,
    Job,
    Outcome,
    PlayFn,
    RayConfig,
    single_threaded_torch,
)
from leagues.games import GameResult, GameSpec, play_game

log = logging.getLogger(__name__)


def _play_on_worker(spec: GameSpec, play: PlayFn) -> GameResult:
    single_threaded_torch()
    return play(spec)


class RayExecutor(Executor):
    """Plays games as Ray tasks; joins the Ray of this process if one is running.

    Args:
        config: workers or cluster address, retries, object store, session directory.
        play: the game function (``play_game``; tests substitute others).

    Attributes:
        max_in_flight: most games submitted at once (may be changed between runs).
    """

    def __init__(self, config: RayConfig | None = None, play: PlayFn = play_game) -> None:
        config = config or RayConfig()
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        import ray

        self._ray = ray
        self.config, self.play = config, play
        self._owns = False
        self._temp_dir: str | None = None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False}
            if config.address is not None:
                ray.init(address=config.address, **kwargs)
            else:
                temp_dir = config.temp_dir
                if temp_dir is None:
                    temp_dir = self._temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
                ray.init(num_cpus=config.workers, include_dashboard=False, _temp_dir=temp_dir,
                         object_store_memory=config.object_store_memory, **kwargs)
            self._owns = True
        cpus = int(ray.cluster_resources().get("CPU", config.workers))
        self.max_in_flight = config.max_in_flight or max(2, 2 * cpus)
        self._remote = ray.remote(num_cpus=1, max_retries=config.max_retries)(_play_on_worker)

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, Outcome]]:
        """Submit up to ``max_in_flight`` games at a time; yield each as it finishes."""
        ray = self._ray
        queue = list(jobs)[::-1]
        in_flight: dict[Any, int] = {}
        while queue or in_flight:
            while queue and len(in_flight) < self.max_in_flight:
                game_id, spec = queue.pop()
                in_flight[self._remote.remote(spec, self.play)] = game_id
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                game_id = in_flight.pop(ref)
                yield game_id, self._result(game_id, ref)

    def _result(self, game_id: int, ref: Any) -> Outcome:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as err:
            cause = err.cause if getattr(err, "cause", None) is not None else err
            log.warning("game %d raised on its worker: %s", game_id, cause)
            return GameFailure(f"{type(cause).__name__}: {cause}")
        except exceptions.RayError as err:  # the worker died more often than max_retries
            log.warning("game %d failed: its worker died (%s)", game_id, type(err).__name__)
            return GameFailure(f"worker died: {type(err).__name__}: {err}")

    def close(self) -> None:
        """Shut down the local Ray this executor started and remove its session directory."""
        if self._owns:
            self._ray.shutdown()
            self._owns = False
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
