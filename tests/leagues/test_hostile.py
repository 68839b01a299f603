"""League files under careless or hostile use: two commands at once, checkpoints replaced between a
stop and a resume, symlinked paths."""

from __future__ import annotations

import shutil
import threading

import pytest

from leagues import AgentSpec, Tournament, TournamentConfig
from leagues.competition import Competition
from leagues.storage import LeagueDB, StorageError

ENTRANTS = [AgentSpec("idle", body="ant"), AgentSpec("random", body="ant"),
            AgentSpec("random", body="ant", name="random-2")]


def test_two_commands_started_on_a_new_file_at_once_schedule_the_games_once(
        tmp_path, tiny_game, monkeypatch):
    path = tmp_path / "t.db"
    config = TournamentConfig(game=tiny_game)
    both_looked = threading.Barrier(2, timeout=30)
    create = Competition._create

    def racing_create(self, agents, config):
        both_looked.wait()  # both commands saw an empty file before either wrote to it
        return create(self, agents, config)

    monkeypatch.setattr(Competition, "_create", racing_create)
    made, errors = [], []

    def start() -> None:
        try:
            t = Tournament(path, ENTRANTS, config)
            made.append(t.config)
            t.close()  # in its own thread, as SQLite wants
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and made == [config, config]
    with LeagueDB(path) as db:
        assert db.counts()["pending"] == 3  # one round robin of 3 agents, not two
        assert len(db.agents()) == 3


def test_a_checkpoint_replaced_between_a_stop_and_a_resume_is_refused(tmp_path, tiny_game,
                                                                       lineage):
    ckpt = tmp_path / "player.safetensors"
    shutil.copy(lineage.path(1), ckpt)
    entrants = [AgentSpec(str(ckpt), name="player"), AgentSpec("idle", body="ant")]
    t = Tournament(tmp_path / "t.db", entrants, TournamentConfig(game=tiny_game))
    t.close()  # stopped before playing
    shutil.copy(lineage.path(2), ckpt)  # another network under the same name
    resumed = Tournament(tmp_path / "t.db")
    with pytest.raises(StorageError, match=r"agent 'player': checkpoint .*player\.safetensors "
                                           r"changed since the tournament started"):
        resumed.run()
    assert resumed.db.counts() == {"pending": 1, "done": 0, "void": 0}  # nothing played
    shutil.copy(lineage.path(1), ckpt)  # the original back: the run goes on
    assert resumed.run() == 1
    ckpt.unlink()
    with pytest.raises(StorageError, match=r"its checkpoint .* is gone"):
        Tournament(tmp_path / "t.db").run()


def test_the_lock_holds_through_a_symlinked_path(tmp_path, tiny_game):
    real = tmp_path / "real.db"
    Tournament(real, ENTRANTS, TournamentConfig(game=tiny_game)).close()
    link = tmp_path / "link.db"
    link.symlink_to(real)
    with LeagueDB(real) as a, LeagueDB(link) as b, a.exclusive():
        with pytest.raises(StorageError, match="another process is running"), b.exclusive():
            pass


def test_a_replayed_void_game_leaves_the_rating_history_of_an_uninterrupted_run(
        tmp_path, tiny_game):
    from leagues.executors import InProcessExecutor
    from leagues.games import play_game
    from leagues.report import markdown_report, rating_history

    config = TournamentConfig(game=tiny_game, seed=3)
    reference = Tournament(tmp_path / "ref.db", ENTRANTS, config)
    reference.run()
    t = Tournament(tmp_path / "t.db", ENTRANTS, config)
    unlucky = t.db.pending()[0][1].seed

    def fails_once(spec):
        if spec.seed == unlucky:
            raise OSError("the machine ran out of file handles")
        return play_game(spec)

    t.run(InProcessExecutor(fails_once))
    assert t.db.counts() == {"pending": 0, "done": 2, "void": 1}
    report = markdown_report(t.db, full=False)
    assert ("1 void game(s), not rated" in report
            and "- game 1: idle vs random: OSError: the machine ran out of file handles" in report)
    t.run()  # the same command again replays the void game
    assert t.db.counts() == {"pending": 0, "done": 3, "void": 0}
    assert rating_history(t.db) == rating_history(reference.db)
    assert "void" not in markdown_report(t.db, full=False)


@pytest.mark.parametrize("kind", ["directory", "foreign", "garbage"])
def test_league_files_that_are_not_league_files_are_refused_untouched(tmp_path, kind):
    import sqlite3

    path = tmp_path / "x.db"
    if kind == "directory":
        path.mkdir()
        message = "is a directory; give the path of a league file"
    elif kind == "foreign":
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE users(name TEXT)")
        conn.commit()
        conn.close()
        message = r"SQLite database of another program \(tables: users\)"
    else:
        path.write_bytes(b"\x00\x01 definitely not SQLite" * 50)
        message = "not an SQLite file"
    before = sorted((p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    with pytest.raises(StorageError, match=message):
        Tournament(path, ENTRANTS, TournamentConfig())
    after = sorted((p.name, p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file())
    assert after == before  # no tables added, no journal mode switched, no -wal file


@pytest.mark.skipif(__import__("os").geteuid() == 0, reason="root writes read-only files")
def test_a_read_only_league_file_gets_a_one_line_error(tmp_path, tiny_game):
    path = tmp_path / "t.db"
    Tournament(path, ENTRANTS, TournamentConfig(game=tiny_game)).close()
    path.chmod(0o444)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(StorageError, match="cannot be"):
            Tournament(path).run()
    finally:
        tmp_path.chmod(0o755)


def test_reports_list_the_games_with_how_to_replay_them(tmp_path, tiny_game):
    from leagues.report import markdown_report

    t = Tournament(tmp_path / "t.db", ENTRANTS, TournamentConfig(game=tiny_game))
    t.run()
    text = markdown_report(t.db)
    assert "## Games (newest 3 of 3)" in text
    assert f"arena replay --db {t.db.path} --game ID --round R --episode E" in text
    assert "| 3 | 1 | random | random-2 |" in text and "| 3 x 1 |" in text  # batches from 1
