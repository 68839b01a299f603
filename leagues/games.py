"""The iterated adaptation game: R rounds of E RoboSumo episodes between two agents.

A game is a pure function of its ``GameSpec`` (agents, config, seed): every episode's env seed and
every agent's seed derive from the game seed, so the same spec gives the same result on any
executor, and any episode can be replayed by replaying its game.

Between rounds each side adapts from its own experience of the game (``Agent.adapt``); an evolving
side is instead replaced by the next version of its lineage. Sides alternate between player_0 and
player_1 every episode. An agent that raises, or acts with NaN or a wrong-shaped action, forfeits:
the game is lost for it and the reason is recorded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from leagues import rules
from leagues.roster import AgentSpec, load_agent, version_for_round

SIDES = ("a", "b")
DEFAULT_ACT_TIMEOUT = 10.0  # seconds per act: 10,000 times what a zoo agent needs
DEFAULT_ADAPT_TIMEOUT = 600.0  # seconds per load, reset or adapt


@dataclass(frozen=True)
class GameConfig:
    """How long a game is and how it is scored.

    Attributes:
        rounds: rounds per game (the paper: 100).
        episodes: episodes per round (the paper: 3).
        max_steps: step limit of an episode, after which it is a draw (500).
        margin: least lead, as a fraction of the rounds, that wins the game (0.05).
        env_kwargs: further keyword arguments of ``envs.robosumo.parallel_env``.
        act_timeout: seconds an agent may take for one ``act`` (or ``observe``) call before it
            forfeits; a healthy zoo agent takes about a millisecond.
        adapt_timeout: seconds an agent may take to load, reset or ``adapt`` between rounds
            (meta-learners adapt on many bouts).
    """

    rounds: int = 10
    episodes: int = 3
    max_steps: int = 500
    margin: float = rules.DEFAULT_MARGIN
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    act_timeout: float = DEFAULT_ACT_TIMEOUT
    adapt_timeout: float = DEFAULT_ADAPT_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("rounds", "episodes", "max_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GameConfig.{name} must be an integer >= 1, got {value!r}")
        for name in ("act_timeout", "adapt_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"GameConfig.{name} must be a number of seconds > 0, "
                                 f"got {value!r}")
        if not (isinstance(self.margin, int | float) and 0 <= self.margin < 1):
            raise ValueError(f"GameConfig.margin must be in [0, 1), got {self.margin!r}")
        if "max_steps" in self.env_kwargs or "bodies" in self.env_kwargs:
            raise ValueError("GameConfig.env_kwargs must not set bodies or max_steps; "
                             "bodies come from the agents, max_steps is a field")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**dataclasses.asdict(self), "env_kwargs": dict(self.env_kwargs)}


@dataclass(frozen=True)
class GameSpec:
    """Everything that determines a game.

    Attributes:
        a: side A (its body must be known: see ``roster.with_body``).
        b: side B.
        config: rounds, episodes, scoring.
        seed: the game seed all other seeds derive from.
        a_starts: whether A is player_0 in the first episode.
    """

    a: AgentSpec
    b: AgentSpec
    config: GameConfig
    seed: int
    a_starts: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"a": self.a.to_dict(), "b": self.b.to_dict(), "config": self.config.to_dict(),
                "seed": self.seed, "a_starts": self.a_starts}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GameSpec:
        """The spec ``to_dict`` described."""
        return cls(AgentSpec.from_dict(d["a"]), AgentSpec.from_dict(d["b"]),
                   GameConfig(**d["config"]), int(d["seed"]), bool(d["a_starts"]))


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode: its env seed (replay it with ``reset(seed=seed)``) and result for A."""

    round: int
    episode: int
    seed: int
    a_player: str
    outcome: int
    steps: int
    return_a: float
    return_b: float


@dataclass(frozen=True)
class RoundRecord:
    """One round: the lineage versions that played (None if not evolving) and A's tally."""

    round: int
    a_version: int | None
    b_version: int | None
    wins: int
    losses: int
    draws: int
    outcome: int


@dataclass(frozen=True)
class GameResult:
    """The result of a game for side A; ``forfeit`` is the side ("a"/"b") that forfeited."""

    outcome: int
    rounds: tuple[RoundRecord, ...]
    episodes: tuple[EpisodeRecord, ...]
    forfeit: str | None = None
    reason: str | None = None
    elapsed: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class StepEvent:
    """What a game's observer is told after every step (viewers, progress, recorders).

    Attributes:
        round: the round, from 0.
        episode: the episode in the round, from 0.
        step: the step in the episode, from 1.
        env: the env (its state after the step; for rendering).
        a_player: the player slot side A has in this episode.
        rewards: each player's reward of the step.
        infos: each player's info of the step (the reward terms, ``winner``).
        done: whether the episode ended with this step.
        outcome: A's result of the episode when it ended (WIN, DRAW or LOSS), else None.
        round_outcome: A's result of the round when its last episode ended, else None.
    """

    round: int
    episode: int
    step: int
    env: Any
    a_player: str
    rewards: Mapping[str, float]
    infos: Mapping[str, Mapping[str, Any]]
    done: bool = False
    outcome: int | None = None
    round_outcome: int | None = None

    def side_player(self, side: str) -> str:
        """The player slot of side "a" or "b" in this episode."""
        return self.a_player if side == "a" else rules.PLAYERS[1 - rules.PLAYERS.index(
            self.a_player)]


Observer = Callable[[StepEvent], None]


class AgentFault(Exception):
    """An agent raised or acted illegally; ``side`` forfeits the game."""

    def __init__(self, side: str, name: str, problem: str) -> None:
        super().__init__(f"agent {name!r} (side {side}) {problem}")
        self.side = side


def derive_seed(seed: int, *keys: int) -> int:
    """A 63-bit seed derived from a game seed and integer keys (independent streams)."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(2, np.uint64)[0] >> 1)


def episode_seed(game_seed: int, round_index: int, episode_index: int) -> int:
    """The env seed of an episode."""
    return derive_seed(game_seed, 0, round_index, episode_index)


def agent_seed(game_seed: int, side: str, round_index: int = 0) -> int:
    """The seed of side "a" or "b" (an evolving side gets a new one every round)."""
    return derive_seed(game_seed, 1 + SIDES.index(side), round_index)


class _Timeout(BaseException):
    """An agent call outlived its budget (a BaseException: an agent's ``except Exception`` must
    not swallow it)."""


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout


def _budgets_work() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def alarm_handler():
    """Install the budgets' SIGALRM handler for a whole game (once, not at every call)."""
    if not _budgets_work() or signal.getsignal(signal.SIGALRM) is _alarm:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def time_budget(seconds: float):
    """Raise ``_Timeout`` in the body once ``seconds`` have passed (main thread only).

    The alarm repeats every second until the body ends, so an agent that catches the first one
    is interrupted again. Elsewhere than the main thread, or without SIGALRM, the body runs
    unbounded. Inside ``alarm_handler`` (a game) a call only arms and disarms the timer.
    """
    if not _budgets_work():
        yield
        return
    with alarm_handler():
        signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)


class _Side:
    """One side of a game: its agent, with every call guarded so that a fault names the side.

    A call that raises anything but KeyboardInterrupt (``sys.exit`` included) or outlives its
    time budget is the agent's fault. Budgets run on SIGALRM, which interrupts Python code
    (loops, sleeps) between bytecodes; they hold where games run in a process's main thread
    (the in-process executor and Ray workers) and are not enforced elsewhere.
    """

    def __init__(self, side: str, spec: AgentSpec, game_seed: int,
                 config: GameConfig | None = None) -> None:
        self.side, self.spec, self.game_seed = side, spec, game_seed
        config = config or GameConfig()
        self.act_timeout, self.adapt_timeout = config.act_timeout, config.adapt_timeout
        self.agent = None
        self.version: int | None = None

    def _guard(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        seconds = self.act_timeout if what in ("act", "observe") else self.adapt_timeout
        try:
            with time_budget(seconds):
                return fn(*args)
        except KeyboardInterrupt:
            raise
        except _Timeout:
            flag = "--act-timeout" if what in ("act", "observe") else "--adapt-timeout"
            raise AgentFault(self.side, self.spec.label,
                             f"did not return from {what} within {seconds:g} s "
                             f"({flag})") from None
        except SystemExit as err:
            raise AgentFault(self.side, self.spec.label,
                             f"tried to exit the process in {what} (SystemExit {err.code!r})"
                             ) from None
        except BaseException as err:
            raise AgentFault(self.side, self.spec.label,
                             f"raised in {what}: {type(err).__name__}: {err}") from err

    def start_round(self, round_index: int) -> None:
        if self.agent is not None and not self.spec.evolving:
            return
        self.version = version_for_round(self.spec, round_index)
        seed = agent_seed(self.game_seed, self.side, round_index if self.spec.evolving else 0)
        self.agent = self._guard("load", load_agent, self.spec, seed, self.version)
        self._guard("reset", self.agent.reset)

    def act(self, obs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        action = self._guard("act", self.agent.act, obs)
        problem = rules.action_problem(action, shape)
        if problem is not None:
            raise AgentFault(self.side, self.spec.label, problem)
        return np.asarray(action, dtype=np.float64)

    def observe(self, *args: Any) -> None:
        self._guard("observe", self.agent.observe, *args)

    def adapt(self) -> None:
        if not self.spec.evolving:
            self._guard("adapt", self.agent.adapt)


def _play_episode(env: Any, sides: dict[str, _Side], a_player: str, seed: int,
                  observer: Observer | None, indices: tuple[int, int],
                  round_so_far: list[int], last_in_round: bool
                  ) -> tuple[str | None, int, float, float]:
    """One episode; returns (winner player, steps, return of A, return of B).

    ``round_so_far`` holds A's outcomes of the round's earlier episodes, so that the event of
    the round's last step carries the round's result."""
    player_of = {"a": a_player, "b": rules.PLAYERS[1 - rules.PLAYERS.index(a_player)]}
    obs, _ = env.reset(seed=seed)
    returns = {"a": 0.0, "b": 0.0}
    winner, steps = None, 0
    while env.agents:
        actions = {player_of[s]: sides[s].act(obs[player_of[s]],
                                               env.action_space(player_of[s]).shape)
                   for s in SIDES}
        obs, rewards, terms, truncs, infos = env.step(actions)
        steps += 1
        for s in SIDES:
            p = player_of[s]
            returns[s] += float(rewards[p])
            sides[s].observe(actions[p], float(rewards[p]), obs[p], bool(terms[p]),
                             bool(truncs[p]))
        winner = infos["player_0"]["winner"]
        if observer is not None:
            done = not env.agents
            outcome = rules.episode_outcome(winner, a_player) if done else None
            round_outcome = (rules.majority([*round_so_far, outcome])
                             if done and last_in_round else None)
            observer(StepEvent(*indices, steps, env, a_player, rewards, infos, done, outcome,
                               round_outcome))
    return winner, steps, returns["a"], returns["b"]


def play_game(spec: GameSpec, observer: Observer | None = None) -> GameResult:
    """Play an iterated adaptation game.

    Args:
        spec: the agents (with bodies), config and seed.
        observer: called with a ``StepEvent`` after every step (for viewers and progress).

    Returns:
        The result for side A. A fault ends the game at once: the faulting side loses, and the
        rounds and episodes completed before it are kept.
    """
    from envs.robosumo import parallel_env

    cfg = spec.config
    if spec.a.body is None or spec.b.body is None:
        raise ValueError("play_game needs both bodies; fill them in with roster.with_body")
    start = time.perf_counter()
    envs = {}
    for a_player in rules.PLAYERS:
        bodies = (spec.a.body, spec.b.body) if a_player == "player_0" else (spec.b.body,
                                                                              spec.a.body)
        envs[a_player] = parallel_env(bodies, max_steps=cfg.max_steps, **cfg.env_kwargs)
    sides = {s: _Side(s, getattr(spec, s), spec.seed, cfg) for s in SIDES}
    rounds: list[RoundRecord] = []
    episodes: list[EpisodeRecord] = []
    handler = contextlib.ExitStack()
    handler.enter_context(alarm_handler())  # the agents' time budgets, for the whole game
    try:
        for r in range(cfg.rounds):
            for side in sides.values():
                side.start_round(r)
            outcomes = []
            for e in range(cfg.episodes):
                a_player = rules.a_player(r, e, cfg.episodes, spec.a_starts)
                seed = episode_seed(spec.seed, r, e)
                winner, steps, ra, rb = _play_episode(envs[a_player], sides, a_player, seed,
                                                      observer, (r, e), outcomes,
                                                      e + 1 == cfg.episodes)
                outcomes.append(rules.episode_outcome(winner, a_player))
                episodes.append(EpisodeRecord(r, e, seed, a_player, outcomes[-1], steps, ra, rb))
            rounds.append(RoundRecord(r, sides["a"].version, sides["b"].version,
                                      outcomes.count(rules.WIN), outcomes.count(rules.LOSS),
                                      outcomes.count(rules.DRAW), rules.majority(outcomes)))
            if r + 1 < cfg.rounds:
                for side in sides.values():
                    side.adapt()
    except AgentFault as fault:
        outcome = rules.LOSS if fault.side == "a" else rules.WIN
        return GameResult(outcome, tuple(rounds), tuple(episodes), fault.side, str(fault),
                          time.perf_counter() - start)
    finally:
        handler.close()
        for env in envs.values():
            env.close()
    outcome = rules.game_outcome([x.outcome for x in rounds], cfg.margin)
    return GameResult(outcome, tuple(rounds), tuple(episodes), None, None,
                      time.perf_counter() - start)

