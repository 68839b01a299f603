"""Tournaments, PFSP leagues and evolution on their league files: records, forfeits, resumption."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from leagues import (
    AgentSpec,
    Evolution,
    EvolutionConfig,
    GameFailure,
    InProcessExecutor,
    League,
    LeagueConfig,
    LeagueDB,
    StorageError,
    Tournament,
    TournamentConfig,
    population_shares,
)
from leagues.games import play_game
from leagues.ratings import replay_ratings
from leagues.report import rating_history, standings

ENTRANTS = [AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
            AgentSpec("random", body="ant", name="random-2")]


def _snapshot(db: LeagueDB) -> dict:
    """Everything a run wrote, minus timings."""
    games = [(r["id"], r["batch"], r["a"], r["b"], r["seed"], r["status"], r["outcome"],
              r["forfeit"]) for r in db.conn.execute("SELECT * FROM games ORDER BY id")]
    episodes = [tuple(r) for r in db.conn.execute("SELECT * FROM episodes ORDER BY game, round, "
                                                  "episode")]
    return {"games": games, "episodes": episodes, "ratings": rating_history(db),
            "table": [dataclasses.astuple(s) for s in standings(db)]}


def _by_game(rows) -> dict[int, list]:
    out: dict[int, list] = {}
    for game, value in rows:
        out.setdefault(game, []).append(value)
    return out


def test_round_robin_tournament_records_every_game(tmp_path, tiny_game):
    config = TournamentConfig(games_per_pair=2, game=tiny_game, seed=1)
    t = Tournament(tmp_path / "t.db", ENTRANTS, config)
    assert t.total_games() == 6
    assert t.run() == 6
    db = t.db
    assert db.counts() == {"pending": 0, "done": 6, "void": 0}
    assert len(db.conn.execute("SELECT * FROM rounds").fetchall()) == 6 * tiny_game.rounds
    assert len(rating_history(db)) == 12  # both players, every game
    table = standings(db)
    assert sum(s.games for s in table) == 12
    assert all(s.wins + s.draws + s.losses == s.games == 4 for s in table)
    assert table == sorted(table, key=lambda s: -s.ordinal)
    assert t.run() == 0  # complete: nothing is played twice
    t.close()


class _Reversed(InProcessExecutor):
    """Finishes games in reverse order, as a parallel executor may."""

    def run(self, jobs):
        yield from reversed(list(super().run(jobs)))


def test_results_are_written_in_game_order_and_match_pure_ratings(tmp_path, tiny_game):
    config = TournamentConfig(games_per_pair=2, game=tiny_game, seed=8)
    ordered = Tournament(tmp_path / "a.db", ENTRANTS, config)
    ordered.run()
    shuffled = Tournament(tmp_path / "b.db", ENTRANTS, config)
    written = []
    shuffled.run(_Reversed(), on_game=lambda game_id, outcome: written.append(game_id))
    assert written == sorted(written)
    assert _snapshot(shuffled.db) == _snapshot(ordered.db)
    names = {int(r["id"]): r["name"] for r in ordered.db.agents()}
    games = [(names[r["a"]], names[r["b"]], r["outcome"]) for r in ordered.db.results()]
    expected = replay_ratings(list(names.values()), games, config.ratings)
    stored = ordered.db.ratings(config.ratings)
    assert {names[k]: v for k, v in stored.items()} == expected


def test_forfeits_are_recorded_and_the_tournament_goes_on(tmp_path, tiny_game, faulty):
    entrants = [*ENTRANTS[:2], AgentSpec(faulty("nan", after=3), name="nan-agent")]
    t = Tournament(tmp_path / "t.db", entrants, TournamentConfig(game=tiny_game))
    t.run()
    rows = t.db.results()
    assert len(rows) == 3
    forfeits = [r for r in rows if r["forfeit"] is not None]
    assert len(forfeits) == 2 and all("NaN" in r["reason"] for r in forfeits)
    by_name = {s.name: s for s in standings(t.db)}
    assert by_name["nan-agent"].forfeits == 2 and by_name["nan-agent"].losses == 2
    assert standings(t.db)[-1].name == "nan-agent"


def test_a_game_is_never_recorded_twice(tmp_path, tiny_game):
    t = Tournament(tmp_path / "t.db", ENTRANTS[:2], TournamentConfig(game=tiny_game))
    t.run()
    (game_id, *_), result = t.db.results()[0], None
    spec = t.game_spec(1, 2, 0, 0)
    result = play_game(spec)
    with pytest.raises(StorageError, match="not pending"):
        t.db.record_game(game_id, result, t.config.ratings)
    assert t.db.counts()["done"] == 1 and len(rating_history(t.db)) == 2


def test_a_stored_game_replays_exactly(tmp_path, tiny_game, lineage):
    entrants = [AgentSpec(str(lineage.path(1))), AgentSpec("random", body="ant")]
    t = Tournament(tmp_path / "t.db", entrants, TournamentConfig(game=tiny_game))
    t.run()
    game_id = t.db.results()[0]["id"]
    replay = play_game(t.db.game_spec(game_id))
    stored = t.db.conn.execute("SELECT round, episode, seed, a_player, outcome, steps, return_a, "
                               "return_b FROM episodes WHERE game=? ORDER BY round, episode",
                               (game_id,)).fetchall()
    assert [tuple(r) for r in stored] == [dataclasses.astuple(e) for e in replay.episodes]
    with pytest.raises(StorageError, match=r"no game 99; games are 1\.\.1"):
        t.db.game_spec(99)


def test_reopening_checks_kind_config_and_agents(tmp_path, tiny_game):
    path = tmp_path / "t.db"
    config = TournamentConfig(game=tiny_game)
    Tournament(path, ENTRANTS, config).close()
    assert Tournament(path).config == config  # resume from the file alone
    with pytest.raises(StorageError, match="another config"):
        Tournament(path, config=dataclasses.replace(config, seed=7))
    with pytest.raises(StorageError, match="holds a tournament, not a league"):
        League(path)
    with pytest.raises(StorageError, match=r"holds a tournament of 3 agents \(idle, random, "
                                           r"random-2\); the command names 1 \(other\)"):
        Tournament(path, [AgentSpec("idle", body="bug", name="other")])
    # a subset of the stored entrants, or the same names for other agents, are refused too
    with pytest.raises(StorageError, match="the command names 2"):
        Tournament(path, ENTRANTS[:2], config)
    changed = [*ENTRANTS[:2], dataclasses.replace(ENTRANTS[2], deterministic=True)]
    with pytest.raises(StorageError, match="agent 'random-2' was started as"):
        Tournament(path, changed, config)
    assert Tournament(path, ENTRANTS, config).config == config  # the same command resumes
    with pytest.raises(StorageError, match="give the agents"):
        League(tmp_path / "new.db")
    with pytest.raises(ValueError, match="unique"):
        Tournament(tmp_path / "dup.db", [ENTRANTS[0], ENTRANTS[0]], config)
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError, match="not a league database"):
        LeagueDB(tmp_path / "junk.db")


def test_one_runner_at_a_time(tmp_path, tiny_game):
    t = Tournament(tmp_path / "t.db", ENTRANTS[:2], TournamentConfig(game=tiny_game))
    with LeagueDB(tmp_path / "t.db") as other, other.exclusive():
        with pytest.raises(StorageError, match="another process is running the league"):
            t.run()
    assert t.run() == 1  # the lock is released with its holder


def test_games_that_cannot_be_played_are_void_and_retried_on_resume(tmp_path, tiny_game):
    calls = []

    def flaky(spec):
        calls.append(spec.seed)
        if len(calls) == 2:
            raise OSError("lost connection")
        return play_game(spec)

    t = Tournament(tmp_path / "t.db", ENTRANTS, TournamentConfig(game=tiny_game))
    t.run(InProcessExecutor(play=flaky))
    assert t.db.counts() == {"pending": 0, "done": 2, "void": 1}
    void = t.db.conn.execute("SELECT reason FROM games WHERE status='void'").fetchone()
    assert "lost connection" in void[0]
    t.run()
    assert t.db.counts() == {"pending": 0, "done": 3, "void": 0}
    assert isinstance(GameFailure("x"), GameFailure)


_RUN_TOURNAMENT = textwrap.dedent("""
    import sys
    from leagues import AgentSpec, GameConfig, Tournament, TournamentConfig
    entrants = [AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
                AgentSpec("random", body="ant", name="random-2"),
                AgentSpec("random", body="bug", name="random-bug")]
    config = TournamentConfig(games_per_pair=2, seed=5,
                              game=GameConfig(rounds=3, episodes=2, max_steps=40))
    Tournament(sys.argv[1], entrants, config).run()
""")


def test_a_killed_tournament_resumes_with_nothing_lost_or_counted_twice(tmp_path, monkeypatch):
    killed, clean = tmp_path / "killed.db", tmp_path / "clean.db"
    proc = subprocess.Popen([sys.executable, "-c", _RUN_TOURNAMENT, str(killed)],
                            env={**os.environ, "PYTHONHASHSEED": "0"})
    deadline = time.monotonic() + 240  # a guard against a hung child, not a speed requirement
    done = 0
    while done < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        if killed.exists():
            try:
                with LeagueDB(killed) as db:
                    done = db.counts()["done"]
            except (StorageError, Exception):  # the child may be creating the file
                done = 0
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with LeagueDB(killed) as db:
        counts = db.counts()
        assert counts["done"] < 12, "the run finished before it could be killed"
        # No partial game: every recorded game has all its episodes, nothing else has any.
        n_episodes = db.conn.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
        assert n_episodes == counts["done"] * 6
    for path in (killed, clean):  # resume the killed run; make an uninterrupted one
        monkeypatch.setattr(sys, "argv", ["-c", str(path)])
        exec(_RUN_TOURNAMENT, {})
    with LeagueDB(killed) as a, LeagueDB(clean) as b:
        assert a.counts() == {"pending": 0, "done": 12, "void": 0}
        assert _snapshot(a) == _snapshot(b)


def test_pfsp_league_schedules_batches_and_adds_snapshots(tmp_path, tiny_game, lineage):
    entrants = [AgentSpec("idle", body="ant"),
                AgentSpec(str(lineage.directory), evolving=True, name="learner", kind="ppo")]
    config = LeagueConfig(matchmaking="pfsp-var", batches=3, snapshot_every=1, game=tiny_game)
    league = League(tmp_path / "l.db", entrants, config)
    batches = []
    league.run(on_batch=batches.append)
    assert batches == [0, 1, 2]
    names = [r["name"] for r in league.db.agents()]
    assert names == ["idle", "learner", "selfplay-ant@v3"]
    snap = league.db.agent_spec(3)
    assert not snap.evolving and snap.ref == str(lineage.path(3)) and snap.kind == "ppo"
    per_batch = [len(league.db.results(batch=k)) for k in range(3)]
    assert per_batch == [2, 3, 3]  # one game per member and batch; the snapshot joined at 1
    # The evolving learner (id 2) advanced one version per round in every game it played.
    played = league.db.conn.execute(
        "SELECT g.id, CASE WHEN g.a = 2 THEN r.a_version ELSE r.b_version END FROM rounds r "
        "JOIN games g ON g.id = r.game WHERE 2 IN (g.a, g.b) ORDER BY g.id, r.round").fetchall()
    assert played and all(v == [1, 2, 3] for v in _by_game(played).values())


def test_league_runs_are_reproducible(tmp_path, tiny_game):
    config = LeagueConfig(batches=2, batch_size=4, game=tiny_game, seed=3)
    runs = []
    for name in ("a.db", "b.db"):
        league = League(tmp_path / name, ENTRANTS, config)
        league.run()
        runs.append(_snapshot(league.db))
        assert league.total_games() == 8
    assert runs[0] == runs[1]


def test_evolution_keeps_the_population_size_and_records_shares(tmp_path, tiny_game):
    config = EvolutionConfig(generations=3, copies=3, game=tiny_game, seed=2)
    evo = Evolution(tmp_path / "e.db", ENTRANTS, config)
    evo.run()
    shares = population_shares(evo.db)
    assert len(shares) == 4
    for share in shares:
        assert sum(share.values()) == pytest.approx(1.0)
    assert shares[0] == {"idle": pytest.approx(1 / 3), "random": pytest.approx(2 / 3)}
    for g in range(4):
        assert len(evo.db.population(g)[1]) == 9
    games = evo.db.results()
    assert all(g["a"] != g["b"] for g in games)  # copies of one agent do not play each other
    assert all(g["slot_a"] is not None for g in games)
    assert Evolution(tmp_path / "e.db").run() == 0


def test_leagues_do_not_import_ray(tmp_path):
    code = ("import sys, leagues, leagues.report, leagues.executors; "
            "assert 'ray' not in sys.modules, 'ray was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_executor_registry_lists_backends():
    from leagues import make_executor

    with pytest.raises(ValueError, match="local, ray"):
        make_executor("dask")
    with pytest.raises(ValueError, match="ray backend"):
        make_executor("local", workers=2)
    with pytest.raises(ValueError, match="workers"):
        make_executor("local", workers=0)


def test_storage_files_are_wal(tmp_path: Path):
    with LeagueDB(tmp_path / "x.db") as db:
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
