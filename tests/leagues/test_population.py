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
