"""The ``arena`` command line."""

from __future__ import annotations

import re

import pytest

from arena.cli import main


def test_demo_prints_every_bout_and_a_consistent_tally(capsys):
    assert main(["demo", "--bodies", "bug", "ant", "--episodes", "3", "--max-steps", "40"]) == 0
    out = capsys.readouterr().out
    assert "bug (player_0) vs ant (player_1)" in out
    bouts = re.findall(r"bout \d+: (\S+)", out)
    assert len(bouts) == 3
    tally = re.search(r"tally: player_0 (\d+), player_1 (\d+), draws (\d+), both fell (\d+)", out)
    assert tally and sum(map(int, tally.groups())) == 3
    assert int(tally.group(1)) == bouts.count("player_0")
    assert int(tally.group(3)) == bouts.count("draw")


def test_demo_is_reproducible(capsys):
    args = ["demo", "--episodes", "2", "--max-steps", "30", "--seed", "4"]
    main(args)
    first = capsys.readouterr().out
    main(args)
    second = capsys.readouterr().out
    strip = re.compile(r"\(\d+ steps, [\d,]+ steps/s\)")
    assert strip.sub("", first) == strip.sub("", second)


@pytest.mark.parametrize(("argv", "message"), [
    (["demo", "--bodies", "ant", "cat"], "unknown body 'cat'; valid bodies are ant, bug, spider"),
    (["demo", "--episodes", "0"], "--episodes"),
])
def test_bad_input_exits_with_a_clear_message(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_every_command_has_help(capsys):
    for command in (["--help"], ["demo", "--help"], ["envs", "--help"]):
        with pytest.raises(SystemExit) as exc:
            main(command)
        assert exc.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_envs_lists_the_sumo_ids(capsys):
    assert main(["envs"]) == 0
    ids = capsys.readouterr().out.split()
    assert sum(i.startswith("RoboSumo-") for i in ids) == 9
