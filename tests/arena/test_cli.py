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
    assert sum(i.startswith("RoboSumo-") for i in ids) == 9
