"""The population study's tables: method-against-method tallies and ranks by method."""

from __future__ import annotations

import math

import pytest

from leagues import AgentSpec, Tournament, TournamentConfig
from leagues.population import (
    Tally,
    by_body,
    cell,
    matrix_markdown,
    method_matrix,
    rank_by_method,
)
from leagues.report import standings


class _FakeDB:
    """The two queries ``method_matrix`` reads, from plain rows."""

    def __init__(self, agents, games):
        self._agents = [{"id": i, "body": b, "kind": k} for i, b, k in agents]
        self._games = [{"a": g[0], "b": g[1], "outcome": g[2],
                        "forfeit": g[3] if len(g) > 3 else None} for g in games]

    def agents(self):
        return self._agents

    def results(self):
        return self._games


def test_tally_counts_each_game_from_both_sides():
    db = _FakeDB([(1, "ant", "MAML"), (2, "ant", "tracking"), (3, "bug", "MAML"),
                  (4, "ant", "MAML")],
                 [(1, 2, 1), (2, 1, 1), (2, 1, 0), (1, 3, -1), (4, 2, 1), (1, 4, 1)])
    m = method_matrix(db)
    maml, track, bug_maml = ("ant", "MAML"), ("ant", "tracking"), ("bug", "MAML")
    # agents 1 and 4 are both ant MAML: their games against tracking pool
    assert m[(maml, track)] == Tally(wins=2, draws=1, losses=1)
    assert m[(track, maml)] == Tally(wins=1, draws=1, losses=2)
    assert m[(maml, bug_maml)] == Tally(losses=1) and m[(bug_maml, maml)] == Tally(wins=1)
    # the game between agents 1 and 4 (both ant MAML) has no row side: left out
    assert (maml, maml) not in m
    assert sum(t.games for t in m.values()) == 2 * (len(db.results()) - 1)


def test_forfeits_are_losses_of_the_side_that_forfeited():
    db = _FakeDB([(1, "ant", "MAML"), (2, "ant", "RL^2")],
                 [(1, 2, -1, "a"), (1, 2, 1, "b"), (2, 1, 1, None)])
    m = method_matrix(db)
    assert m[(("ant", "MAML"), ("ant", "RL^2"))] == Tally(wins=1, losses=2, forfeits=1)
    assert m[(("ant", "RL^2"), ("ant", "MAML"))] == Tally(wins=2, losses=1, forfeits=1)
    assert "1 lost by forfeit" in cell(m[(("ant", "MAML"), ("ant", "RL^2"))])


def test_tally_rates_and_intervals():
    t = Tally(wins=3, draws=1, losses=0)
    assert t.games == 4 and t.win_rate == 0.75
    lo, hi = t.interval()
    assert 0 < lo < 0.75 < hi <= 1
    assert math.isnan(Tally().win_rate)


def test_matrix_markdown_shows_rates_and_gaps():
    db = _FakeDB([(1, "ant", "MAML"), (2, "ant", "tracking")], [(1, 2, 1), (1, 2, 1)])
    text = matrix_markdown(method_matrix(db), "ant", ["MAML", "tracking", "RL^2"])
    maml_row = next(line for line in text.splitlines() if line.startswith("| MAML"))
    cells = [c.strip() for c in maml_row.strip("|").split("|")]
    assert cells[0] == "MAML" and cells[2].startswith("1.00 [") and cells[2].endswith("(n=2)")
    assert cells[1] == "·" and cells[3] == "·"  # no games against itself or RL^2


def test_tournament_tallies_agree_with_the_leaderboard(tmp_path, tiny_game):
    specs = [AgentSpec("idle", body="ant", name="idle-ant", kind="frozen"),
             AgentSpec("random", body="ant", name="random-ant", kind="noise"),
             AgentSpec("random", body="ant", name="random-ant-2", kind="noise"),
             AgentSpec("idle", body="bug", name="idle-bug", kind="frozen")]
    t = Tournament(tmp_path / "t.db", specs, TournamentConfig(game=tiny_game, seed=3))
    t.run()
    table = standings(t.db)
    ranks = rank_by_method(table)
    assert sorted(r for rs in ranks.values() for r in rs) == [1, 2, 3, 4]
    assert {k: len(v) for k, v in ranks.items()} == {"frozen": 2, "noise": 2}
    m = method_matrix(t.db)
    assert any(s.wins for s in table), "every game was drawn: the check below would be empty"
    for kind in ("frozen", "noise"):
        # every game counts once per agent on the leaderboard and once per direction here
        won = sum(s.wins for s in table if s.kind == kind)
        tallied = sum(v.wins for (x, _), v in m.items() if x[1] == kind)
        assert won == tallied
    # the two random ants share a method and body: their game is the one not tallied
    assert sum(v.games for v in m.values()) == 2 * (t.db.counts()["done"] - 1) == 2 * 5
    t.close()


def test_by_body_pools_the_methods():
    db = _FakeDB([(1, "ant", "MAML"), (2, "ant", "tracking"), (3, "bug", "MAML")],
                 [(1, 3, 1), (2, 3, 0), (3, 2, 1)])
    pooled = by_body(method_matrix(db))
    assert pooled[("ant", "bug")] == Tally(wins=1, draws=1, losses=1)
    assert pooled[("bug", "ant")] == Tally(wins=1, draws=1, losses=1)
    assert ("ant", "ant") not in pooled


def test_population_versions_are_the_newest_then_evenly_back_over_the_newer_half(script):
    pick = script("population").pick_versions
    versions = list(range(10, 260, 10))  # 25 snapshots; the newer half is 130..250 (13)
    assert pick(versions, 1) == [250]
    assert pick(versions, 2) == [250, 130]
    assert pick(versions, 3) == [250, 190, 130]
    assert pick(versions, 13) == list(range(250, 120, -10))
    with pytest.raises(SystemExit, match="--versions 14: the newer half of the lineage holds "
                                         "only 13 snapshots"):
        pick(versions, 14)
    assert pick([1, 2], 1) == [2]


@pytest.mark.parametrize("body", ["ant", "bug", "spider"])
def test_population_meta_learners_train_with_the_settled_settings(script, body, tmp_path):
    from arena.cli import build_parser
    from arena.meta_cli import norml_config_from_args, rl2_config_from_args

    zoo = script("population_zoo")
    parse = build_parser().parse_args
    name = body.capitalize()
    runs = {m: parse(["train", *zoo.train_args(m, body, tmp_path / m)]) for m in zoo.METHODS}
    for m, args in runs.items():  # every run meets the lineage of its own body, one core each
        assert args.env == f"RoboSumo-{name}-vs-{name}-v0", m
        assert args.opponents == f"zoo:selfplay-{body}", m
        assert args.nthread == 1 and args.run_dir == tmp_path / m, m
    maml = runs["maml"]  # KL-sized steps, kept positive, the value net apart
    assert (maml.inner_step, maml.step_size, maml.log_step_sizes, maml.value_step,
            maml.sf_baseline) == ("kl", 0.01, True, "separate", "pre")
    assert maml.init_from == f"zoo:selfplay-{body}" and maml.iterations == zoo.BUDGET["maml"]
    rl2 = rl2_config_from_args(runs["rl2"])  # whole 100-step windows, trials of 5 bouts
    assert (rl2.ppo.bptt, rl2.episodes, rl2.total_steps) == (100, 5, zoo.BUDGET["rl2"])
    assert rl2.rollout % rl2.ppo.bptt == 0
    norml = norml_config_from_args(runs["norml"])
    assert norml.model.center_advantage and norml.init_from == f"zoo:selfplay-{body}"
    assert norml.iterations == zoo.BUDGET["norml"]
    with pytest.raises(ValueError, match="unknown method 'ppo'; accepted: maml, rl2, norml"):
        zoo.train_args("ppo", body, tmp_path)


def test_population_meta_learner_enters_the_zoo_standalone_with_its_command(script, tmp_path,
                                                                             monkeypatch):
    import agents.refs
    from agents.checkpoint import load_checkpoint, read_meta

    zoo = script("population_zoo")
    source = agents.refs.ZOO_DIR / "selfplay-bug" / "v0125.safetensors"
    monkeypatch.setattr(agents.refs, "ZOO_DIR", tmp_path)
    command = "arena train maml --env RoboSumo-Bug-vs-Bug-v0"
    path = zoo.save_zoo({"method": "maml", "body": "bug", "seed": 0, "snapshot": str(source),
                         "command": command})
    assert path == tmp_path / "maml-sumo-bug.safetensors"
    replicate = zoo.save_zoo({"method": "maml", "body": "bug", "seed": 1,
                              "snapshot": str(source), "command": command})
    assert replicate == tmp_path / "maml-sumo-bug-seed1.safetensors"  # seed 0's file stays
    meta, before = read_meta(path), read_meta(source)
    assert (meta.lineage, meta.version) == (None, None) and before.lineage == "selfplay-bug"
    assert meta.extra["command"] == command and meta.kind == before.kind
    tensors, _ = load_checkpoint(path)
    assert all((tensors[k] == v).all() for k, v in load_checkpoint(source)[0].items())


def test_population_names_zoo_checkpoints_by_zoo_reference(script, tmp_path, monkeypatch):
    import agents.refs

    reference = script("population").reference
    monkeypatch.setattr(agents.refs, "ZOO_DIR", tmp_path / "zoo")
    assert reference(tmp_path / "zoo" / "maml-sumo-ant.safetensors") == "zoo:maml-sumo-ant"
    assert reference(tmp_path / "zoo" / "selfplay-ant" / "v0124.safetensors",
                     124) == "zoo:selfplay-ant@124"
    run = tmp_path / "runs" / "selfplay-ant" / "lineage" / "selfplay-ant" / "v0002.safetensors"
    assert reference(run, 2) == str(run.resolve())  # outside the zoo: where it lies


def test_population_enters_replicate_seeds_only_when_asked(script, capsys):
    import agents

    population = script("population").population
    names = [s.name for s in population(agents.ZOO_DIR, ["bug"], 1, [])]
    assert "maml-sumo-bug" in names and not any(n.endswith("-seed1") for n in names)
    with_seeds = [s.name for s in population(agents.ZOO_DIR, ["bug"], 1, [], replicates=True)]
    assert {"maml-sumo-bug-seed1", "norml-sumo-bug-seed1"} <= set(with_seeds)
    assert set(names) < set(with_seeds)
