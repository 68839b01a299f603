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
