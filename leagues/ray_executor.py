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

import contextlib
import logging
import os
import shutil
import socket
import sys
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


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at a ``host:port`` address (Ray would wait for minutes).

    Raises:
        ValueError: the port does not answer within ``timeout`` seconds.
    """
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return  # "auto" and other forms: Ray resolves them itself
    try:
        socket.create_connection((host or "localhost", int(port)), timeout=timeout).close()
    except OSError as err:
        raise ValueError(f"--address {address}: no Ray cluster answers there within "
                         f"{timeout:g} s ({err.strerror or err}); start one with "
                         f"`ray start --head` or leave out --address") from None


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
        # Ray prints raylet and worker messages (a worker that died, ...) on the driver's
        # stdout, which carries the leaderboard: they go to stderr while this executor lives.
        self._stdout: Any = contextlib.redirect_stdout(sys.stderr)
        self._stdout.__enter__()
        try:
            self._init(config)
        except BaseException:
            self.close()
            raise
        cpus = int(ray.cluster_resources().get("CPU", config.workers))
        self.max_in_flight = config.max_in_flight or max(2, 2 * cpus)
        self._remote = ray.remote(num_cpus=1, max_retries=config.max_retries)(_play_on_worker)

    def _init(self, config: RayConfig) -> None:
        """Join the Ray of this process, a cluster at ``address``, or start a local one."""
        ray = self._ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"log_to_driver": False}
            if config.address is not None:
                _check_reachable(config.address)
                try:
                    ray.init(address=config.address, **kwargs)
                except (ConnectionError, RuntimeError, ValueError) as err:
                    raise ValueError(f"--address {config.address}: cannot join a Ray cluster "
                                     f"there: {err}") from None
            else:
                temp_dir = config.temp_dir
                if temp_dir is None:
                    temp_dir = self._temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
                ray.init(num_cpus=config.workers, include_dashboard=False, _temp_dir=temp_dir,
                         object_store_memory=config.object_store_memory, **kwargs)
            self._owns = True

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, Outcome]]:
        """Submit up to ``max_in_flight`` games at a time; yield each as it finishes."""
        ray = self._ray
        queue = list(jobs)[::-1]
        in_flight: dict[Any, tuple[int, GameSpec]] = {}
        while queue or in_flight:
            while queue and len(in_flight) < self.max_in_flight:
                game_id, spec = queue.pop()
                in_flight[self._remote.remote(spec, self.play)] = (game_id, spec)
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                game_id, spec = in_flight.pop(ref)
                yield game_id, self._result(game_id, spec, ref)

    def _result(self, game_id: int, spec: GameSpec, ref: Any) -> Outcome:
        exceptions = self._ray.exceptions
        try:
            return self._ray.get(ref)
        except exceptions.RayTaskError as err:
            cause = err.cause if getattr(err, "cause", None) is not None else err
            log.warning("game %d raised on its worker: %s", game_id, cause)
            return GameFailure(f"{type(cause).__name__}: {cause}")
        except exceptions.RayError as err:  # the worker died more often than max_retries
            log.warning("game %d failed: its worker died (%s)", game_id, type(err).__name__)
            # Which agent killed it is unknown (os._exit, a crash in native code, the OOM
            # killer): name both, so that the user knows whom to suspect.
            return GameFailure(f"worker died playing {spec.a.label} vs {spec.b.label} (an agent "
                               f"that ends its process, a crash in native code or memory): "
                               f"{type(err).__name__}")

    def close(self) -> None:
        """Shut down the local Ray this executor started and remove its session directory."""
        if self._owns:
            self._ray.shutdown()
            self._owns = False
        if self._stdout is not None:
            self._stdout.__exit__(None, None, None)
            self._stdout = None
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            self._temp_dir = None
