"""Executors play games; the in-process one is the default and Ray's lives in ``ray_executor``
(``leagues.backends.make_executor`` makes either by name).

Both take ``(game id, GameSpec)`` jobs and yield ``(game id, GameResult | GameFailure)`` as games
finish, in any order. Games are pure functions of their specs, so every executor gives the same
results for the same seeds; ``play_pending`` writes them in game-id order so that ratings (which
depend on order) come out the same too, and a resumed run continues where the last one stopped.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from leagues.games import GameResult, GameSpec, play_game
from leagues.ratings import RatingConfig
from leagues.storage import LeagueDB

log = logging.getLogger(__name__)

PlayFn = Callable[[GameSpec], GameResult]
Job = tuple[int, GameSpec]


@dataclass(frozen=True)
class GameFailure:
    """A game that could not be played (not an agent's fault: those are forfeits)."""

    reason: str


Outcome = GameResult | GameFailure

# Results are small; Ray refuses an object store under 75 MB.
DEFAULT_OBJECT_STORE_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class RayConfig:
    """How the Ray executor runs (it lives in ``ray_executor``; this module never imports ray).

    Attributes:
        workers: CPUs of a local Ray, one game each; ignored when joining a cluster.
        address: a running cluster ("auto" or "host:port"); None starts a local Ray.
        max_retries: times a game is retried after its worker died.
        object_store_memory: bytes of a local Ray's object store.
        temp_dir: a local Ray's session directory (None: a fresh one under /tmp, removed on
            close; Ray's unix sockets need a short path).
        max_in_flight: most games submitted at once (None: twice the cluster's CPUs).
    """

    workers: int = 1
    address: str | None = None
    max_retries: int = 3
    object_store_memory: int = DEFAULT_OBJECT_STORE_BYTES
    temp_dir: str | None = None
    max_in_flight: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"workers must be an integer >= 1, got {self.workers!r}")
        if self.max_retries < 0 or (self.max_in_flight is not None and self.max_in_flight < 1):
            raise ValueError(f"max_retries must be >= 0 and max_in_flight >= 1, got "
                             f"{self.max_retries} and {self.max_in_flight}")


class Executor(ABC):
    """Plays games somewhere; use as a context manager so that resources are released."""

    @abstractmethod
    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, Outcome]]:
        """Play the jobs; yield each (game id, outcome) as it finishes."""

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release workers and connections."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def single_threaded_torch() -> int:
    """Make torch use one thread (small ops are far faster so on a busy machine); the old count."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    return previous


class InProcessExecutor(Executor):
    """Plays games one after another in this process.

    Args:
        play: the game function (``play_game``; tests substitute others).
    """

    def __init__(self, play: PlayFn = play_game) -> None:
        self.play = play

    def run(self, jobs: Sequence[Job]) -> Iterator[tuple[int, Outcome]]:
        """Play the jobs in order, torch single-threaded; a game that raises comes back void."""
        import torch

        previous = single_threaded_torch()
        try:
            for game_id, spec in jobs:
                try:
                    outcome: Outcome = self.play(spec)
                except Exception as err:
                    log.warning("game %d could not be played: %s: %s", game_id,
                                type(err).__name__, err)
                    outcome = GameFailure(f"{type(err).__name__}: {err}")
                yield game_id, outcome
        finally:
            torch.set_num_threads(previous)


def play_pending(db: LeagueDB, executor: Executor, config: RatingConfig,
                 on_game: Callable[[int, Outcome], None] | None = None) -> int:
    """Play every pending game of ``db`` and record them in game-id order.

    Results that finish early wait in memory until the games before them are written, so the
    written games are always a prefix of the pending ones: a killed run resumes exactly.

    Args:
        db: the league file.
        executor: where to play.
        config: rating parameters.
        on_game: called after each game is written (for progress bars).

    Returns:
        The number of games written (played or void).
    """
    jobs = db.pending()
    order = [game_id for game_id, _ in jobs]
    waiting: dict[int, Outcome] = {}
    written = 0
    for game_id, outcome in executor.run(jobs):
        waiting[game_id] = outcome
        while written < len(order) and order[written] in waiting:
            gid = order[written]
            done = waiting.pop(gid)
            if isinstance(done, GameFailure):
                db.void_game(gid, done.reason)
            else:
                db.record_game(gid, done, config)
            written += 1
            if on_game is not None:
                on_game(gid, done)
    return written
