"""Tests of the locomotion tasks: leg pairs, the split, the schedule, chains and the sampler."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import envs.nonstationary_locomotion as nl
from envs.bodies import body_info
from envs.nonstationary_locomotion import LegDamage, TaskChain, TaskSampler
from envs.nonstationary_locomotion.scene import build_spec, leg_layout


@pytest.mark.parametrize("body,count", [("bug", 15), ("ant", 6), ("spider", 28)])
def test_leg_pairs_are_all_unordered_pairs_of_one_based_legs(body, count):
    pairs = nl.leg_pairs(body)
    n = body_info(body).n_legs
    assert len(pairs) == count == len(set(pairs))
    assert all(1 <= i < j <= n for i, j in pairs)


def test_bug_split_is_the_papers():
    train, test = nl.train_test_split("bug")
    assert len(train) == 12 and len(test) == 3
    assert not set(train) & set(test)
    assert set(train) | set(test) == set(nl.leg_pairs("bug"))
    assert test == ((1, 2), (3, 4), (5, 6))  # back, middle, front


def test_leg_rows_come_from_geometry_back_to_front():
    # Independent of leg names: sort hips by their offset along the forward axis.
    for body in ("bug", "ant", "spider"):
        layout = leg_layout(build_spec(body).compile(), body)
        along = layout.hip_offsets @ np.asarray(body_info(body).forward)
        rows = nl.leg_rows(body)
        assert sorted(k for row in rows for k in row) == list(range(1, layout.n_legs + 1))
        for row in rows:  # one position per row
            assert np.ptp(along[[k - 1 for k in row]]) < 1e-6
        means = [along[[k - 1 for k in row]].mean() for row in rows]
        assert means == sorted(means) and len(set(np.round(means, 6))) == len(rows)
    # The bug's MJCF: legs 1-2 at +y, 3-4 at y = 0, 5-6 at -y; its forward axis is -y.
    bug = leg_layout(build_spec("bug").compile(), "bug")
    assert (bug.hip_offsets[[0, 1], 1] > 0).all() and (bug.hip_offsets[[4, 5], 1] < 0).all()
    np.testing.assert_allclose(bug.hip_offsets[[2, 3], 1], 0.0, atol=1e-9)
    assert nl.leg_rows("bug") == ((1, 2), (3, 4), (5, 6))
    assert nl.leg_rows("ant") == ((3, 4), (1, 2))  # the ant's front legs are at +y


@pytest.mark.parametrize("body,n_train,n_test", [("ant", 4, 2), ("spider", 24, 4)])
def test_split_of_other_bodies_holds_out_one_pair_per_row(body, n_train, n_test):
    train, test = nl.train_test_split(body)
    assert (len(train), len(test)) == (n_train, n_test)
    assert not set(train) & set(test)
    assert set(test) == set(nl.leg_rows(body))


def test_damage_schedule_falls_linearly_from_one_to_zero():
    schedule = nl.damage_schedule((4, 2))
    assert len(schedule) == 7
    assert all(d.pair == (2, 4) for d in schedule)
    np.testing.assert_allclose([d.scale for d in schedule], [1, 5 / 6, 4 / 6, 3 / 6, 2 / 6,
                                                             1 / 6, 0], atol=1e-15)
    assert schedule[0].scale == 1.0 and schedule[-1].scale == 0.0
    assert [d.scale for d in nl.damage_schedule((1, 2), episodes=2)] == [1.0, 0.0]
    with pytest.raises(ValueError, match="episodes"):
        nl.damage_schedule((1, 2), episodes=1)
    with pytest.raises(ValueError, match=r"1\.\.6"):
        nl.damage_schedule((6, 7), body="bug")


def test_task_chain_yields_tasks_and_consecutive_pairs():
    chain = TaskChain((3, 5))
    tasks = list(chain)
    assert len(chain) == 7 and tasks == list(nl.damage_schedule((3, 5)))
    transitions = chain.transitions()
    assert len(transitions) == 6
    for i, (a, b) in enumerate(transitions):
        assert (a, b) == (tasks[i], tasks[i + 1])
        assert a.scale - b.scale == pytest.approx(1 / 6)


def test_task_sampler_is_seeded_and_draws_from_its_split():
    train, test = nl.train_test_split("bug")
    a, b = TaskSampler("bug", seed=3), TaskSampler("bug", seed=3)
    chains_a, chains_b = a.chains(50), b.chains(50)
    assert chains_a == chains_b
    assert {c.pair for c in chains_a} <= set(train)
    assert len({c.pair for c in chains_a}) > 6  # draws spread over the training pairs
    assert TaskSampler("bug", seed=4).chains(50) != chains_a
    pairs = TaskSampler("bug", seed=5).transitions(40)
    assert pairs == TaskSampler("bug", seed=5).transitions(40)
    for t0, t1 in pairs:
        assert t0.pair == t1.pair and t0.pair in train
        assert t0.scale - t1.scale == pytest.approx(1 / 6)
    assert {c.pair for c in TaskSampler("bug", "test", seed=0).chains(30)} <= set(test)
    with pytest.raises(ValueError, match="split must be one of"):
        TaskSampler("bug", split="validation")


def test_every_training_chain_is_valid_for_its_body():
    for body in ("ant", "bug", "spider"):
        for pair in itertools.chain(*nl.train_test_split(body)):
            assert nl.damage_schedule(pair, body=body)[-1] == LegDamage(pair, 0.0)
