"""The population study's tables: method-against-method tallies and ranks by method."""

from __future__ import annotations

import math

from leagues import AgentSpec, Tournament, TournamentConfig
from leagues.population import Tally, by_body, matrix_markdown, method_matrix, rank_by_method
from leagues.report import standings


class _FakeDB:
    """The two queries ``method_matrix`` reads, from plain rows."""

    def __init__(self, agents, games):
        self._agents = [{"id": i, "body": b, "kind": k} for i, b, k in agents]
        self._games = [{"a": a, "b": b, "outcome": o} for a, b, o in games]

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
    # a game between two agents of the same side is on the diagonal, once each way
    assert m[(maml, maml)] == Tally(wins=1, losses=1)
    for (x, y), t in m.items():
        assert (t.wins, t.draws, t.losses) == (m[(y, x)].losses, m[(y, x)].draws, m[(y, x)].wins)
    assert sum(t.games for t in m.values()) == 2 * len(db.results())


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
    assert sum(v.games for v in m.values()) == 2 * t.db.counts()["done"] == 2 * 6
    t.close()


def test_by_body_pools_the_methods():
    db = _FakeDB([(1, "ant", "MAML"), (2, "ant", "tracking"), (3, "bug", "MAML")],
                 [(1, 3, 1), (2, 3, 0), (3, 2, 1)])
    pooled = by_body(method_matrix(db))
    assert pooled[("ant", "bug")] == Tally(wins=1, draws=1, losses=1)
    assert pooled[("bug", "ant")] == Tally(wins=1, draws=1, losses=1)
    assert ("ant", "ant") not in pooled
