"""``arena game``, ``arena tournament`` and ``arena league`` (registered by add_league_parsers)."""

from __future__ import annotations

import argparse

import pytest

from arena.league_cli import add_league_parsers
from leagues import AgentSpec
from leagues.roster import parse_agent

TINY = ["--rounds", "2", "--episodes", "1", "--max-steps", "30", "--no-progress"]


def arena(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="arena")
    sub = parser.add_subparsers(dest="command", required=True)
    add_league_parsers(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_agent_syntax():
    assert parse_agent("random,body=bug") == AgentSpec("random", body="bug")
    spec = parse_agent("zoo:selfplay-ant,evolve,start=700,stride=2,name=opp,kind=ppo")
    assert spec == AgentSpec("zoo:selfplay-ant", evolving=True, start_version=700, stride=2,
                             name="opp", kind="ppo")
    assert parse_agent("x.safetensors,deterministic").deterministic
    assert parse_agent("zoo:selfplay-bug,adapt=tracking").adaptation == "tracking"
    with pytest.raises(ValueError, match="adapt must be one of own, none, tracking"):
        parse_agent("zoo:selfplay-bug,adapt=sometimes")
    with pytest.raises(ValueError, match="unknown option 'colour=red'; options are body="):
        parse_agent("random,colour=red")
    with pytest.raises(ValueError, match="start must be an integer"):
        parse_agent("zoo:x,evolve,start=latest")


def test_game_prints_rounds_and_result(capsys):
    assert arena(["game", "random,body=ant", "idle,body=ant", *TINY, "--rounds", "3"]) == 0
    out = capsys.readouterr().out
    assert "random (ant) vs idle (ant): 3 rounds x 1 episodes" in out
    assert out.count("  round ") == 3
    assert "game: " in out and " for random (rounds " in out


def test_tournament_runs_resumes_and_reports(tmp_path, capsys):
    db = str(tmp_path / "t.db")
    argv = ["tournament", "idle,body=ant", "random,body=ant", "random,body=bug,name=rb",
            "--db", db, *TINY]
    assert arena(argv) == 0
    first = capsys.readouterr().out
    assert "| rank | agent |" in first and first.count("| ant |") + first.count("| bug |") == 3
    assert arena(argv) == 0  # resuming a complete tournament plays nothing more
    assert capsys.readouterr().out == first
    assert arena(["league", "status", "--db", db]) == 0
    assert "tournament with 3 agents; games: 3 done, 0 pending, 0 void" in capsys.readouterr().out
    report = tmp_path / "report.md"
    history = tmp_path / "history.csv"
    assert arena(["league", "report", "--db", db, "--out", str(report), "--history",
                  str(history)]) == 0
    assert "## Payoff table" in report.read_text()
    lines = history.read_text().splitlines()
    assert lines[0] == "game,name,mu,sigma,ordinal,elo" and len(lines) == 1 + 2 * 3


def test_league_run_and_resume_and_evolution(tmp_path, capsys):
    db = str(tmp_path / "l.db")
    agents = ["idle,body=ant", "random,body=ant"]
    assert arena(["league", "run", *agents, "--db", db, "--batches", "2", *TINY]) == 0
    assert arena(["league", "run", "--db", db, "--no-progress"]) == 0
    assert arena(["league", "status", "--db", db]) == 0
    assert "league with 2 agents; games: 4 done" in capsys.readouterr().out
    from leagues.report import game_rows
    from leagues.storage import LeagueDB

    with LeagueDB(db) as league:  # the report's games table counts batches from 1, as status
        assert sorted({row[1] for row in game_rows(league)}) == ["1", "2"]
    evo = str(tmp_path / "e.db")
    assert arena(["league", "run", *agents, "--db", evo, "--mode", "evolution",
                  "--generations", "2", "--copies", "2", *TINY]) == 0
    capsys.readouterr()
    assert arena(["league", "report", "--db", evo]) == 0
    assert "## Population shares per generation" in capsys.readouterr().out


def test_cli_errors_say_what_is_accepted(tmp_path):
    with pytest.raises(ValueError, match="no league file"):
        arena(["league", "status", "--db", str(tmp_path / "missing.db")])
    with pytest.raises(ValueError, match="holds no league yet"):
        arena(["league", "run", "--db", str(tmp_path / "empty.db")])
    with pytest.raises(ValueError, match="valid bodies are ant, bug, spider"):
        arena(["game", "random,body=cat", "idle,body=ant", *TINY])
    db = str(tmp_path / "t.db")
    arena(["tournament", "idle,body=ant", "random,body=ant", "--db", db, *TINY])
    with pytest.raises(ValueError, match="another config"):
        arena(["tournament", "idle,body=ant", "random,body=ant", "--db", db, *TINY,
               "--seed", "9"])
    with pytest.raises(ValueError, match="ray backend"):
        arena(["tournament", "idle,body=ant", "random,body=ant", "--db", db, *TINY,
               "--workers", "2"])
