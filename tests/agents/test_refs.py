"""One parser of agent references for every command and config."""

from __future__ import annotations

import pytest

from agents.maml.sumo import opponent_lineage
from agents.refs import Ref, lineage_of_ref, parse_ref
from leagues.roster import AgentSpec, lineage_of


@pytest.mark.parametrize(("text", "ref"), [
    ("random", Ref("builtin", "random")),
    ("zoo:selfplay-bug", Ref("zoo", "selfplay-bug")),
    ("zoo:selfplay-bug@4", Ref("zoo", "selfplay-bug", 4)),
    ("runs/x/lineage/mine@12", Ref("path", "runs/x/lineage/mine", 12)),
    ("some@dir/v0003.safetensors", Ref("path", "some@dir/v0003.safetensors")),
])
def test_references_parse_the_same_everywhere(text, ref):
    assert parse_ref(text) == ref


@pytest.mark.parametrize(("text", "message"), [
    ("zoo:../x", "no '/', '..' or absolute paths"),
    ("zoo:selfplay-bug@0", "must be a positive integer, got '0'"),
    ("zoo:selfplay-bug@next", "must be a positive integer, got 'next'"),
])
def test_bad_references_are_refused(text, message):
    with pytest.raises(ValueError, match=message):
        parse_ref(text)


def test_a_pinned_version_is_not_taken_for_a_lineage_name():
    lineage, version = lineage_of_ref("zoo:selfplay-bug@8")
    assert (lineage.name, version) == ("selfplay-bug", 8) and lineage.versions()
    # the trainers' opponents are whole lineages: a pinned version is refused, not misread
    # as a lineage called "selfplay-bug@8" with no snapshots
    with pytest.raises(ValueError, match="give the lineage without '@8'"):
        opponent_lineage("zoo:selfplay-bug@8")
    assert opponent_lineage("zoo:selfplay-bug").name == "selfplay-bug"
    spec = AgentSpec("zoo:selfplay-bug@8", evolving=True)
    assert lineage_of(spec)[1] == 8
    with pytest.raises(ValueError, match="names no lineage with snapshots"):
        lineage_of(AgentSpec("zoo:nobody", evolving=True))


def test_a_path_is_a_reference_and_other_types_are_refused_clearly():
    from pathlib import Path

    assert parse_ref(Path("runs/x.safetensors")) == Ref("path", "runs/x.safetensors")
    with pytest.raises(TypeError, match=r"an agent reference is a string .* got int"):
        parse_ref(3)
