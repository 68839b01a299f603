"""head_to_head: counts from A's side and says how each bout ended."""

import numpy as np

from agents.evaluate import ENDS, MatchResult, _end, head_to_head


def test_an_end_is_read_from_as_side_whichever_seat_it_has():
    no, yes = np.array([False, False]), np.array([True, False])
    # player_0 fell: player_1 won
    assert _end(1, seat_a=0, fallen=yes, out=no, unstable=False) == "lost: fell"
    assert _end(1, seat_a=1, fallen=yes, out=no, unstable=False) == "won: B fell"
    assert _end(0, seat_a=0, fallen=no, out=yes[::-1], unstable=False) == "won: B out"
    assert _end(0, seat_a=1, fallen=no, out=yes[::-1], unstable=False) == "lost: out"
    both = np.array([True, True])
    assert _end(-1, seat_a=0, fallen=both, out=no, unstable=False) == "draw: both lost"
    assert _end(-1, seat_a=1, fallen=no, out=no, unstable=False) == "draw: step limit"
    assert _end(-1, seat_a=0, fallen=no, out=no, unstable=True) == "draw: unstable"


def test_random_torques_lose_to_an_idle_robot_by_themselves_and_every_bout_has_an_end():
    r = head_to_head("random", "idle", ("ant", "ant"), episodes=12, arenas=4, seed=3, nthread=1)
    assert r.episodes == 12 and set(r.ends) <= set(ENDS)
    assert sum(r.ends.values()) == 12
    lost = r.ends.get("lost: fell", 0) + r.ends.get("lost: out", 0)
    won = r.ends.get("won: B fell", 0) + r.ends.get("won: B out", 0)
    assert (lost, won) == (r.losses, r.wins)
    assert r.losses >= 10  # a flailing robot falls over (the README: 40 of 40)
    # seen from the idle side, the ends are B's
    s = head_to_head("idle", "random", ("ant", "ant"), episodes=12, arenas=4, seed=3, nthread=1)
    assert s.wins >= 10 and sum(v for k, v in s.ends.items() if k.startswith("won")) == s.wins


def test_ends_are_not_part_of_a_results_equality():
    assert MatchResult(1, 2, 3, {"lost: fell": 2}) == MatchResult(1, 2, 3)
    assert hash(MatchResult(1, 2, 3, {"lost: fell": 2})) == hash(MatchResult(1, 2, 3))


def test_the_zoo_evaluation_tabulates_only_the_ends_that_occurred(script):
    table = script("zoo_evaluation").ends_table([
        ("v1", "idle-ant", MatchResult(3, 1, 0, {"won: B out": 3, "lost: fell": 1})),
        ("v1", "random-ant", MatchResult(2, 0, 1, {"won: B fell": 2, "draw: step limit": 1}))])
    head, _, first, second = table.splitlines()
    assert head == "| A | B | won: B fell | won: B out | lost: fell | draw: step limit |"
    assert first == "| v1 | idle-ant | 0 | 3 | 1 | 0 |"
    assert second == "| v1 | random-ant | 2 | 0 | 0 | 1 |"
