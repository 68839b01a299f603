"""The ``arena`` command line: help, errors, the env listing."""

from __future__ import annotations

import pytest

from arena.cli import main


@pytest.mark.parametrize(("argv", "message"), [
    (["demo", "--backend", "spark"], "spark"),
    (["match", "random,body=ant", "nobody-knows-me"], "nobody-knows-me"),
])
def test_bad_input_exits_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in (["--help"], ["demo", "--help"], ["envs", "--help"], ["train", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(command)
        assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_envs_lists_the_sumo_ids(capsys):
    assert main(["envs"]) == 0
    ids = capsys.readouterr().out.split()
    sumo = [i for i in ids if i.startswith("RoboSumo-")]
    # 9 matchups, each plain and -Batched-v0, against random torques and (-Zoo) the zoo's agents
    assert len(sumo) == 36 and sum("-Zoo-" in i for i in sumo) == 18
    assert "RoboSumo-Spider-vs-Bug-Zoo-Batched-v0" in sumo


def test_arena_alone_lists_the_commands_and_there_is_a_version(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert all(cmd in out for cmd in ("demo", "tournament", "watch", "zoo"))
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("arena ")


def test_python_dash_m_arena_runs_the_cli():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "arena", "--version"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("arena ")


@pytest.mark.parametrize(("argv", "message"), [
    (["game", "idle,body=ant", "random,body=ant", "--seed", "-1"],
     "argument --seed: seeds are integers >= 0, got -1"),
    (["league", "run", "idle,body=ant", "random,body=ant", "--db", "{tmp}/l.db", "--batches",
      "0"], "--batches must be >= 1, got 0"),
    (["game", "idle,body=ant", "zoo:selfplay-ant,adapt=magic"],
     "agent 'zoo:selfplay-ant,adapt=magic': adapt must be one of own, none, tracking"),
    (["game", "zoo:selfplay-ant,body=bug", "idle,body=bug"], "controls an ant, not a bug"),
])
def test_errors_speak_in_flags_and_options(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit):
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert message in err and "AgentSpec" not in err and "Config." not in err


def test_scores_read_w_d_l_everywhere(capsys):
    # two idle robots draw every episode: the draws sit in the middle, as in the leaderboards
    assert main(["game", "idle,body=ant", "idle,body=ant", "--rounds", "2", "--episodes", "3",
                 "--max-steps", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert out.count("0-3-0 (W-D-L for A) -> draw") == 2


def test_watch_takes_max_steps_per_episode_and_stop_after_in_all(capsys, empty_zoo):
    assert main(["watch", "idle", "idle", "--bodies", "ant", "ant", "--episodes", "2",
                 "--max-steps", "4", "--size", "96", "72"]) == 0
    assert "2 episodes shown" in capsys.readouterr().out
    assert main(["watch", "idle", "idle", "--bodies", "ant", "ant", "--episodes", "2",
                 "--max-steps", "4", "--stop-after", "3", "--size", "96", "72"]) == 0
    assert "0 episodes shown" in capsys.readouterr().out  # stopped inside the first episode


def test_game_tournament_and_league_commands_write_json(tmp_path, capsys):
    import json

    assert main(["game", "idle,body=ant", "random,body=ant", "--rounds", "2", "--episodes", "1",
                 "--max-steps", "10", "--no-progress", "--json", "-"]) == 0
    game = json.loads(capsys.readouterr().out)  # nothing but the JSON on standard output
    assert len(game["rounds"]) == 2 and game["outcome"] in (-1, 0, 1)
    db = str(tmp_path / "t.db")
    out = tmp_path / "t.json"
    assert main(["tournament", "idle,body=ant", "random,body=ant", "--db", db, "--rounds", "1",
                 "--episodes", "1", "--max-steps", "10", "--no-progress", "--json",
                 str(out)]) == 0
    assert "| rank |" in capsys.readouterr().out  # a file: the leaderboard is still printed
    written = json.loads(out.read_text())
    assert [s["name"] for s in written["standings"]] and written["games"][0]["id"] == 1
    for command in (["league", "status"], ["league", "report"]):
        assert main([*command, "--db", db, "--json", "-"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["games"] == written["games"] and data["kind"] == "tournament"


@pytest.mark.parametrize(("argv", "message"), [
    (["watch", "idle", "idle", "--bodies", "ant", "ant", "--rounds", "0"],
     "--rounds must be an integer >= 1, got 0"),
    (["watch", "idle", "idle", "--bodies", "ant", "ant", "--max-steps", "0"],
     "--max-steps must be an integer >= 1, got 0"),
    (["match", "idle", "idle", "--bodies", "ant", "ant", "--max-steps", "0"],
     "--max-steps must be an integer >= 1, got 0"),
    (["tournament", "idle,body=ant", "random,body=ant", "--db", "{tmp}/t.db",
      "--games-per-pair", "0"], "argument --games-per-pair: expected an integer >= 1, got 0"),
    (["tournament", "idle,body=ant", "random,body=ant", "--db", "{tmp}/t.db", "--format",
      "random"], "--format random needs --games >= 1, got 0"),
    (["tournament", "idle,body=ant", "random,body=ant", "--db", "{tmp}/t.db", "--workers", "0"],
     "argument --workers: expected an integer >= 1, got 0"),
    (["league", "run", "idle,body=ant", "random,body=ant", "--db", "{tmp}/l.db", "--mode",
      "evolution", "--generations", "0"], "argument --generations: expected an integer >= 1"),
    (["league", "run", "idle,body=ant", "random,body=ant", "--db", "{tmp}/l.db", "--mode",
      "evolution", "--copies", "0"], "argument --copies: expected an integer >= 1, got 0"),
    (["league", "run", "idle,body=ant", "random,body=ant", "--db", "{tmp}/l.db", "--mode",
      "evolution", "--pairs", "-1"], "argument --pairs: expected an integer >= 0, got -1"),
])
def test_every_count_is_refused_by_its_flag(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err
    assert "Config" not in err and "_" not in err.splitlines()[-1]
    assert not (tmp_path / "t.db").exists() and not (tmp_path / "l.db").exists()


def test_match_reads_w_d_l_as_the_leaderboards(capsys):
    assert main(["match", "idle", "idle", "--bodies", "ant", "ant", "--episodes", "2",
                 "--max-steps", "5"]) == 0
    rows = [line.split(" | ")[0].lstrip("| ") for line in capsys.readouterr().out.splitlines()
            if line.startswith(("| win", "| draw", "| loss"))]
    assert rows == ["win", "draw", "loss"]


def test_league_status_prints_no_python_literal_and_its_json_keeps_the_counts(tmp_path, capsys):
    import json

    db = str(tmp_path / "l.db")
    assert main(["league", "run", "idle,body=ant", "random,body=ant", "--db", db, "--batches",
                 "2", "--rounds", "1", "--episodes", "1", "--max-steps", "5",
                 "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["league", "status", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "2 batches scheduled" in out and "{" not in out and "[" not in out
    assert "env_kwargs: none" in out
    assert main(["league", "status", "--db", db, "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"done": 4, "pending": 0, "void": 0} and data["batches"] == 2
    assert [g["id"] for g in data["games"]] == [4, 3, 2, 1]  # two games a batch, newest first


def test_a_closed_pipe_ends_the_command_quietly(monkeypatch):
    import io

    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["envs"]) == 141
