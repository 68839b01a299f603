"""``arena watch`` and ``arena replay``: iterated games shown in the pygame viewer.

The viewer is the observer of ``leagues.games.play_game``: the game is played exactly as a league
plays it (same seeds, same side swapping, same adaptation between rounds), so a stored episode is
replayed by replaying its game and showing only that episode. ``arena replay --html`` (and
``arena report --replays``) replay the same way with ``arena.html_replay.PoseRecorder`` in the
viewer's place, and write the episode as an HTML page.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from arena import options
from arena.view_settings import CAMERAS, FOLLOW, QUALITY, REAL_TIME_FPS

if TYPE_CHECKING:  # pygame and mujoco are imported when a game is shown, not at start-up
    from arena.html_replay import PoseRecorder
    from arena.viewer import Viewer

ROUND_WORDS = {1: "A wins", 0: "draw", -1: "B wins"}


class _Stop(Exception):
    """Enough has been shown (``--max-steps`` reached, or the replayed episode is over)."""


@dataclasses.dataclass(frozen=True)
class EpisodeSeen:
    """An episode as the viewer saw it end: A's outcome and the steps it took."""

    outcome: int
    steps: int


def _lineage_version(spec: Any) -> int | None:
    """The lineage version of a non-evolving checkpoint agent (None for built-ins)."""
    from agents.checkpoint import read_meta
    from leagues.roster import checkpoint_path

    path = checkpoint_path(spec)
    return None if path is None else read_meta(path).version


class GameView:
    """Plays a game with a viewer as its observer.

    Args:
        viewer: the viewer, or what stands in for it with the same ``timeline``, ``present``,
            ``forget_scenes``, ``state`` and ``realtime`` (``arena.html_replay.PoseRecorder``).
        spec: the game (``leagues.games.GameSpec``, bodies filled in).
        max_steps: stop after showing this many steps in all (None: the whole game).
        only: (round, episode), 0-based: play the game up to the end of this episode without
            showing anything, keeping that episode's steps in the viewer's timeline, then show
            them (a person can scrub through them; the outcome is already known) and stop.
    """

    def __init__(self, viewer: Viewer, spec: Any, max_steps: int | None = None,
                 only: tuple[int, int] | None = None) -> None:
        self.viewer, self.spec, self.max_steps, self.only = viewer, spec, max_steps, only
        self.fixed_versions = (None if spec.a.evolving else _lineage_version(spec.a),
                               None if spec.b.evolving else _lineage_version(spec.b))
        self.seen: dict[tuple[int, int], EpisodeSeen] = {}
        self.shown = 0
        self._reset()

    def _reset(self) -> None:
        from arena.viewer import Hud

        cfg = self.spec.config
        self.hud = Hud((self.spec.a.label, self.spec.b.label), (self.spec.a.body, self.spec.b.body),
                       rounds=cfg.rounds, episodes=cfg.episodes, max_steps=cfg.max_steps)
        self.at: tuple[int, int] | None = None
        self.round_outcomes: list[int] = []
        self.seen.clear()
        self.shown = 0
        self.viewer.timeline.clear(cfg.max_steps)

    def _start_episode(self, event: Any) -> None:
        from leagues.roster import version_for_round

        hud = self.hud
        if hud.round != event.round:
            hud.score = (0, 0, 0)
        hud.round, hud.episode, hud.step = event.round, event.episode, 0
        hud.a_player = event.a_player
        hud.versions = tuple(version_for_round(s, event.round) if s.evolving else v for s, v in
                             zip((self.spec.a, self.spec.b), self.fixed_versions, strict=True))
        hud.returns, hud.terms = {"a": 0.0, "b": 0.0}, {}
        self.at = (event.round, event.episode)
        self.viewer.timeline.clear()  # the timeline holds the shown episode only

    def _end_episode(self, event: Any) -> None:
        """Tally what the game says of the episode (and of the round, after its last one)."""
        hud, outcome = self.hud, event.outcome
        self.seen[(hud.round, hud.episode)] = EpisodeSeen(outcome, hud.step)
        w, lo, d = hud.score
        hud.score = (w + (outcome == 1), lo + (outcome == -1), d + (outcome == 0))
        hud.message = f"episode {hud.episode + 1}: {ROUND_WORDS[outcome]}"
        if event.round_outcome is not None:
            result = event.round_outcome
            self.round_outcomes.append(result)
            rw, rl, rd = hud.rounds_score
            hud.rounds_score = (rw + (result == 1), rl + (result == -1), rd + (result == 0))
            hud.message = f"round {hud.round + 1}: {ROUND_WORDS[result]}"

    def __call__(self, event: Any) -> None:
        """The observer: called by ``play_game`` with a ``StepEvent`` after every step."""
        from arena.timeline import Snapshot

        if self.at != (event.round, event.episode):
            self._start_episode(event)
        hud, env = self.hud, event.env
        hud.step = event.step
        hud.terms = {s: {k: v for k, v in event.infos[event.side_player(s)].items()
                         if k.startswith("reward_")} for s in ("a", "b")}
        for s in ("a", "b"):
            hud.returns[s] += float(event.rewards[event.side_player(s)])
        if event.done:
            self._end_episode(event)
        if self.only is not None and (event.round, event.episode) != self.only:
            return
        cfg = self.spec.config
        if event.done and (event.round, event.episode) == (cfg.rounds - 1, cfg.episodes - 1):
            hud.message += "; game over: r restarts, q quits"
            if self.only is None:
                self.viewer.state.paused = self.viewer.realtime  # a person watching: hold the end
        timeline = self.viewer.timeline
        timeline.append(Snapshot.of(env, hud))
        if self.only is None:
            # Returns when the game may play its next step: while the person watching looks
            # back in the timeline, the game waits.
            self.viewer.present(self._shown)
        elif event.done:  # replay: the episode is known to its end, now it is shown
            timeline.complete = True
            self.viewer.present(self._shown, live=False)
            raise _Stop

    def _shown(self) -> None:
        """Count a frame shown; stop after ``max_steps`` of them."""
        self.shown += 1
        if self.max_steps is not None and self.shown >= self.max_steps:
            raise _Stop

    def play(self) -> Any:
        """Play (restarting on r) until the game ends, enough is shown, or the person quits.

        Returns:
            The ``GameResult`` if the game was played to its end, else None.
        """
        from arena.viewer import ViewerQuit, ViewerRestart
        from leagues.games import play_game

        while True:
            self._reset()
            try:
                return play_game(self.spec, observer=self)
            except ViewerRestart:
                continue
            except (_Stop, ViewerQuit):
                return None
            finally:
                self.viewer.forget_scenes()


def add_view_options(p: argparse.ArgumentParser) -> None:
    """Options of the viewer and of recording, shared by watch and replay."""
    v = p.add_argument_group("viewer")
    v.add_argument("--camera", choices=CAMERAS, default="tracking", help="first camera")
    v.add_argument("--follow", choices=FOLLOW[1:], default=None,
                   help="start with the camera following side A or B (key f cycles)")
    v.add_argument("--plot", action="store_true",
                   help="start with the plot of the reward terms shown (key p toggles)")
    v.add_argument("--quality", choices=tuple(QUALITY), default="fast",
                   help="render quality: fast (default; real time on a CPU), shadows, or high "
                        "(shadows, reflections, anti-aliasing)")
    v.add_argument("--size", nargs=2, type=int, default=(640, 480), metavar=("W", "H"),
                   help="window size in pixels (default 640 480)")
    v.add_argument("--paused", action="store_true", help="start paused")
    v.add_argument("--record", type=Path, default=None, metavar="FILE.mp4|FILE.gif|DIR",
                   help="record what is shown: an MP4 video (H.264), an animated GIF (for short "
                        "clips), or PNG frames into a directory")
    v.add_argument("--record-every", type=int, default=1, metavar="K",
                   help="record every K-th frame (default 1)")
    v.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop after showing N steps in all (episodes, rounds included)")
    v.add_argument("--screenshot", type=Path, default=None, metavar="FILE.png",
                   help="save the last frame shown as a PNG file")


def open_viewer(args: argparse.Namespace, frames: int | None = None) -> tuple[Viewer, Any]:
    """The viewer (and recorder, or None) the options ask for.

    Args:
        args: the parsed options.
        frames: steps there are to show at most (for the recording's progress and size).
    """
    from arena.recording import Recorder, record_error
    from arena.viewer import Viewer

    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after must be >= 1, got {args.stop_after}")
    if args.screenshot is not None and args.screenshot.suffix.lower() != ".png":
        raise ValueError(f"--screenshot must name a .png file, got {args.screenshot}")
    if args.record is not None and record_error(args.record):
        raise ValueError(record_error(args.record))
    if args.record_every < 1:
        raise ValueError(f"--record-every must be >= 1, got {args.record_every}")
    if args.stop_after is not None:
        frames = args.stop_after if frames is None else min(frames, args.stop_after)
    kept = None if frames is None else -(-frames // args.record_every)
    if os.environ.get("SDL_VIDEODRIVER") == "dummy" and not (args.record or args.screenshot):
        print("no display: the game plays in memory and nothing is kept; add --record "
              "FILE.mp4 (or FILE.gif, or a folder for PNG frames) or --screenshot FILE.png",
              file=sys.stderr)
    viewer = Viewer(*args.size, camera=args.camera, quality=args.quality, paused=args.paused,
                    follow=args.follow or "free", plot=args.plot)
    recorder = None
    if args.record is not None:
        recorder = Recorder(args.record, every=args.record_every, expected=kept, progress=True)
        viewer.on_frame = recorder
        every = "every frame" if args.record_every == 1 else f"every {args.record_every}. frame"
        size = f"{args.size[0]}x{args.size[1]}"
        planned = "" if kept is None else (f": at most {kept:,} frames "
                                          f"({kept * args.record_every / REAL_TIME_FPS:,.0f} s)")
        print(f"recording {every} to {args.record} ({recorder.format}, {size}){planned}",
              file=sys.stderr)
    return viewer, recorder


def show_game(spec: Any, args: argparse.Namespace, only: tuple[int, int] | None = None,
              frames: int | None = None) -> GameView:
    """Show a game in a viewer made from ``args``; write the recording; the finished view.

    ``frames``: the steps there are to show (default: every step of every episode, at most).
    """
    from arena.recording import megabytes, written_size
    from leagues.executors import single_threaded_torch

    single_threaded_torch()
    cfg = spec.config
    viewer, recorder = open_viewer(args, frames or cfg.rounds * cfg.episodes * cfg.max_steps)
    try:
        view = GameView(viewer, spec, args.stop_after, only)
        view.play()
    finally:
        viewer.close()
        written = recorder.close() if recorder is not None else None
    if written is not None:
        print(f"recorded {recorder.written} frames to {written} "
              f"({megabytes(written_size(written))})")
    if args.screenshot is not None and viewer.last_frame is not None:
        from arena.viewer import save_png

        print(f"screenshot: {save_png(viewer.last_frame, args.screenshot)}")
    return view


def add_watch_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``arena watch``."""
    from leagues.roster import AGENT_HELP

    p = sub.add_parser("watch", help="watch an iterated game between two agents in a window",
                       description="Watch an iterated adaptation game in a pygame window: the "
                                   "MuJoCo scene with a HUD. Keys: space play/pause, , and . "
                                   "step back/forward (the game waits while you look back), "
                                   "home/end, +/- speed, c camera (drag to orbit), f follow A/B, "
                                   "p reward plot, s screenshot, r restart, q quit. Headless "
                                   "(SDL_VIDEODRIVER=dummy) it renders off screen: use --record "
                                   "and --stop-after.")
    p.add_argument("a", metavar="A", help=AGENT_HELP)
    p.add_argument("b", metavar="B", help="the opponent, same syntax")
    p.add_argument("--bodies", nargs=2, default=None, metavar=("BODY_A", "BODY_B"),
                   help="bodies of A and B (required for built-ins; read from checkpoints)")
    p.add_argument("--opponent-lineage", action="store_true",
                   help="B is a lineage (zoo:<name>[@<start>] or a directory of snapshots) that "
                        "advances one version (training iteration) per round, as if it kept "
                        "training; a version between stored snapshots plays the nearest older one")
    p.add_argument("--rounds", type=int, default=1, help="rounds of the game (default 1)")
    p.add_argument("--episodes", type=int, default=3, help="episodes per round (default 3)")
    # --max-steps is the per-episode limit, as in match, game and tournament
    p.add_argument("--max-steps", "--episode-steps", dest="episode_steps", type=int, default=500,
                   help="step limit of an episode, then a draw (default 500)")
    p.add_argument("--seed", type=options.seed, default=0, help="game seed (default 0)")
    add_view_options(p)
    p.set_defaults(func=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    """``arena watch``: show a game between two agents."""
    from arena.match import resolve_pair
    from leagues.games import GameConfig, GameSpec

    a, b = resolve_pair(args.a, args.b, args.bodies, evolve_b=args.opponent_lineage)
    config = options.flagged(GameConfig, rounds=args.rounds, episodes=args.episodes,
                             max_steps=args.episode_steps)
    view = show_game(GameSpec(a, b, config, args.seed), args)
    print(f"{a.label} ({a.body}) vs {b.label} ({b.body}): {len(view.seen)} episodes shown, "
          f"A {view.hud.rounds_score[0]}-{view.hud.rounds_score[2]}-{view.hud.rounds_score[1]} "
          f"in finished rounds (W-D-L, as the leaderboards)")
    return 0


def add_replay_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``arena replay``."""
    p = sub.add_parser("replay", help="replay an episode of a league file exactly",
                       description="Replay one stored episode of a league file in the viewer. "
                                   "The game is replayed from its seeds up to that episode (the "
                                   "earlier rounds off screen, so that each side has adapted as "
                                   "it had), and the replayed outcome is checked against the "
                                   "stored one.")
    p.add_argument("--db", type=Path, required=True, help="league file (SQLite)")
    p.add_argument("--game", type=int, required=True, help="game id (see arena league report)")
    p.add_argument("--round", type=int, default=1, help="round, from 1 (default 1)")
    p.add_argument("--episode", type=int, default=1, help="episode in the round, from 1")
    p.add_argument("--html", type=Path, default=None, metavar="FILE.html",
                   help="write the episode as one self-contained HTML page (WebGL, timeline, "
                        "orbit camera, HUD; plays offline in a browser) instead of showing it")
    add_view_options(p)
    p.set_defaults(func=run_replay)


def record_game(spec: Any, only: tuple[int, int] | None = None
                ) -> tuple[GameView, PoseRecorder]:
    """Replay a game as ``arena replay`` does, recording instead of showing.

    Args:
        spec: the game (``leagues.games.GameSpec``).
        only: (round, episode), 0-based: record only this episode and stop when it ends
            (None: every episode of the game).

    Returns:
        The finished ``GameView`` (what it saw of each episode) and the recorder.
    """
    from arena.html_replay import PoseRecorder
    from leagues.executors import single_threaded_torch

    single_threaded_torch()
    recorder = PoseRecorder()
    view = GameView(recorder, spec, None, only)
    view.play()
    return view, recorder


def write_game_pages(db: Any, game: int, folder: Path) -> list[Path]:
    """Replay a stored game once and write the page of each of its stored episodes.

    An episode that does not replay as stored (a checkpoint changed since) gets no page.

    Returns:
        The pages written, in play order.
    """
    from arena.html_replay import page_name, write_page

    spec = db.game_spec(game)
    view, recorder = record_game(spec)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stored in db.game_episodes(game):
        key = (int(stored["round"]), int(stored["episode"]))
        seen = view.seen.get(key)
        if seen is None or (seen.outcome, seen.steps) != (stored["outcome"], stored["steps"]):
            continue
        written.append(write_page(folder / page_name(game, *key), recorder.episodes[key],
                                  *_page_texts(spec, game, db.path, key, stored)))
    return written


def _page_texts(spec: Any, game: int, league: Path, key: tuple[int, int], stored: Any
                ) -> tuple[dict[str, Any], str]:
    """What a page's HUD says of the game (id, league file, stored result) and its title."""
    about = {"game": game, "league": league.name,
             "stored": f"{ROUND_WORDS[stored['outcome']]} after {stored['steps']} steps"}
    return about, (f"game {game} round {key[0] + 1} episode {key[1] + 1}: {spec.a.label} vs "
                   f"{spec.b.label}")


def _stored_episode(args: argparse.Namespace) -> tuple[Any, Any]:
    """The game spec and the stored episode that ``--db``, ``--game``, ``--round`` and
    ``--episode`` name."""
    from leagues.storage import LeagueDB, StorageError

    if not args.db.is_file():
        raise ValueError(f"no league file at {args.db}")
    try:
        with LeagueDB(args.db) as db:
            spec = db.game_spec(args.game)
            stored = db.episode(args.game, args.round - 1, args.episode - 1)
    except StorageError as err:
        raise ValueError(str(err)) from None
    cfg = spec.config
    if not (1 <= args.round <= cfg.rounds and 1 <= args.episode <= cfg.episodes):
        raise ValueError(f"game {args.game} has rounds 1..{cfg.rounds} and episodes "
                         f"1..{cfg.episodes}; got round {args.round}, episode {args.episode}")
    if stored is None:
        raise ValueError(f"game {args.game} has no stored round {args.round} episode "
                         f"{args.episode} (not played yet, or the game ended early by a forfeit)")
    return spec, stored


def check_replayed(seen: EpisodeSeen, stored: Any) -> None:
    """Refuse a replay whose outcome or length differs from the stored episode's."""
    if (seen.outcome, seen.steps) != (stored["outcome"], stored["steps"]):
        raise ValueError("the replay differs from the stored episode: an agent's checkpoint "
                         "changed since the game was played")


def run_replay(args: argparse.Namespace) -> int:
    """``arena replay``: show one stored episode (or write it as an HTML page) and check that
    it replays as stored."""
    if args.html is not None:
        from arena.html_replay import check_html_target

        check_html_target(args.html)
        for flag, value in (("--record", args.record), ("--screenshot", args.screenshot),
                            ("--stop-after", args.stop_after)):
            if value is not None:
                raise ValueError(f"--html: cannot be combined with {flag} (the page replaces "
                                 f"the viewer and holds the whole episode)")
    spec, stored = _stored_episode(args)
    only = (args.round - 1, args.episode - 1)
    print(f"game {args.game} ({spec.a.label} vs {spec.b.label}), round {args.round}, episode "
          f"{args.episode}: stored {ROUND_WORDS[stored['outcome']]} after {stored['steps']} steps")
    if args.html is not None:
        from arena.html_replay import write_page

        view, recorder = record_game(spec, only)
        seen = view.seen[only]
        print(f"replayed {ROUND_WORDS[seen.outcome]} after {seen.steps} steps")
        check_replayed(seen, stored)
        path = write_page(args.html, recorder.episodes[only],
                          *_page_texts(spec, args.game, args.db, only, stored))
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {seen.steps} frames): open it "
              f"in a browser")
        return 0
    view = show_game(spec, args, only=only, frames=stored["steps"])
    seen = view.seen.get(only)
    if seen is None:
        print("replay stopped before the episode ended")
        return 0
    print(f"replayed {ROUND_WORDS[seen.outcome]} after {seen.steps} steps")
    check_replayed(seen, stored)
    return 0
