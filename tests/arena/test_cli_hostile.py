"""The command line under interruption and bad places: Ctrl-C resumes cleanly, a report is not
written over a file, a dead Ray address fails fast, time budgets are flags."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from arena.cli import main

TINY = ["--rounds", "2", "--episodes", "1", "--max-steps", "20", "--no-progress"]


def test_ctrl_c_exits_130_with_how_to_resume_and_the_rerun_finishes(tmp_path):
    db = tmp_path / "t.db"
    agents = ["idle,body=ant", "random,body=ant", "random,body=ant,name=r2",
              "random,body=ant,name=r3", "idle,body=ant,name=i2"]
    cmd = [sys.executable, "-m", "arena.cli", "tournament", *agents, "--db", str(db),
           "--rounds", "3", "--episodes", "2", "--max-steps", "200", "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    deadline = time.monotonic() + 60
    while not db.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # in the middle of the games
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the tournament finished before the interrupt")
    assert proc.returncode == 130, err
    assert "interrupted; run the same command to resume" in err
    assert "Traceback" not in err
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "| rank | agent |" in done.stdout


def test_a_report_is_not_written_over_a_file(tmp_path, capsys):
    assert main(["tournament", "idle,body=ant", "random,body=ant", "--db",
                 str(tmp_path / "t.db"), *TINY]) == 0
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    with pytest.raises(SystemExit):
        main(["report", "--db", str(tmp_path / "t.db"), "--out", str(target)])
    assert f"--out {target} is a file; give a directory" in capsys.readouterr().err
    assert target.read_text() == "mine"


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--act-timeout", "0", "--act-timeout must be a number of seconds > 0, got 0.0"),
    ("--adapt-timeout", "-5", "--adapt-timeout must be a number of seconds > 0"),
    ("--rounds", "0", "--rounds must be an integer >= 1, got 0"),
])
def test_game_options_are_named_by_their_flags(flag, value, message, capsys):
    with pytest.raises(SystemExit):
        main(["game", "idle,body=ant", "random,body=ant", flag, value, "--no-progress"])
    err = capsys.readouterr().err
    assert message in err and "GameConfig" not in err


def test_a_dead_ray_address_fails_fast_with_a_clear_message(tmp_path, capsys):
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(SystemExit):
        main(["tournament", "idle,body=ant", "random,body=ant", "--db", str(tmp_path / "t.db"),
              "--backend", "ray", "--address", f"127.0.0.1:{port}", *TINY])
    assert time.monotonic() - start < 60
    err = capsys.readouterr().err
    assert f"--address 127.0.0.1:{port}: no Ray cluster answers there" in err
