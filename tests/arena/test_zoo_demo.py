"""``arena zoo`` and ``arena demo``, and ``--help`` of every command."""

from __future__ import annotations

import json

import pytest

import agents
from arena.cli import main


def test_zoo_lists_lineages_with_provenance(zoo, capsys):
    assert main(["zoo"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| selfplay-ant"))
    for text in ("ppo-mlp", "ant", "3: v1..v3", "3 iterations, 300 steps", "1,000 steps",
                 "2026-01-03T12:00:00", "`python scripts/selfplay_lineages.py`"):
        assert text in row
    assert main(["zoo", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["versions"] == [1, 2, 3] and entry["body"] == "ant"
    agent = agents.load("zoo:selfplay-ant@2", seed=0)
    assert agent.name == "zoo:selfplay-ant@2" and agent.body == "ant"


def test_empty_zoo_says_so(empty_zoo, capsys):
    assert main(["zoo"]) == 0
    assert "the zoo is empty" in capsys.readouterr().out


def test_quick_demo_with_an_empty_zoo_plays_the_builtins(empty_zoo, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "the built-ins play alone" in text
    assert "| rank | agent |" in text and "| random-ant |" in text
    assert (out / "report.md").is_file() and (out / "payoff.png").is_file()
    assert (out / "league.sqlite").is_file()


def test_quick_demo_enters_the_zoo_lineages(zoo, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--seed", "1"]) == 0
    text = capsys.readouterr().out
    assert "zoo agents: selfplay-ant" in text and "| selfplay-ant |" in text
    games = text.split("arena demo: ")[1].split(" agents")[0]
    assert int(games) == 3  # the lineage, random and idle
    assert main(["demo", "--quick", "--out", str(out), "--seed", "1"]) == 0  # starts afresh


def test_demo_enters_the_population_body_by_body(zoo, zoo_single):
    from arena.demo import FULL, QUICK, demo_entrants

    zoo_single.lineage(zoo, "selfplay-bug", 2, body="bug")
    zoo_single(zoo, "maml-sumo-bug", "bug")
    zoo_single(zoo, "rl2-sumo-ant", "ant")
    zoo_single(zoo, "maml-sumo-ant-seed1", "ant")  # a replicate: not entered
    specs, note = demo_entrants(FULL)
    assert [s.label for s in specs] == [
        "selfplay-ant", "selfplay-ant+tracking", "rl2-sumo-ant",
        "selfplay-bug", "selfplay-bug+tracking", "maml-sumo-bug", "random-ant", "idle-ant"]
    assert [s.adaptation for s in specs[:3]] == ["own", "tracking", "own"]
    assert specs[1].ref == "zoo:selfplay-ant" and not any(s.evolving for s in specs)
    assert note == ("zoo agents: selfplay-ant, selfplay-bug (also with PPO tracking); zoo "
                    "meta-learners: rl2-sumo-ant, maml-sumo-bug; built-ins random and idle as "
                    "a floor")
    specs, _ = demo_entrants(QUICK)  # two zoo entries, no tracking: seconds
    assert [s.label for s in specs] == ["selfplay-ant", "rl2-sumo-ant", "random-ant", "idle-ant"]


COMMANDS = [["demo"], ["match"], ["watch"], ["replay"], ["report"], ["zoo"], ["game"],
            ["tournament"], ["league"], ["league", "run"], ["train"], ["envs"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*command, "--help"])
    assert exc.value.code == 0
    assert "usage: arena" in capsys.readouterr().out


@pytest.mark.slow
def test_quick_demo_on_ray_gives_the_same_leaderboard(empty_zoo, tmp_path, capsys):
    def leaderboard(backend: str) -> str:
        assert main(["demo", "--quick", "--backend", backend, "--out",
                     str(tmp_path / backend)]) == 0
        text = capsys.readouterr().out
        return text[text.index("| rank |"):text.index("report:")]

    assert leaderboard("ray") == leaderboard("local")


@pytest.mark.parametrize(("config", "budget"), [
    ({"train": {"total_steps": 1000}}, "1,000 steps"),
    ({"maml": {"iterations": 100}, "obs_dim": 3}, "100 iterations"),
    ({"maml_sumo": {"iterations": 7}}, "7 iterations"),
    ({"iterations": 200}, "200 iterations"),
    ({"obs_dim": 3}, None),
])
def test_zoo_reads_the_budget_wherever_a_trainer_records_it(config, budget):
    from arena.zoo import _budget

    assert _budget(config) == budget
