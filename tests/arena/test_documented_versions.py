"""Every lineage version a document or a --help text shows (``zoo:<name>@<v>``, ``start=<v>``,
``start_version=<v>``) names a snapshot of the zoo: examples cannot point past the zoo again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import agents
from arena.cli import build_parser
from leagues.roster import AgentSpec, start_version

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FIXED = re.compile(r"zoo:([a-z0-9-]+)@(\d+)")
START = re.compile(r"zoo:([a-z0-9-]+)(?:@\d+)?,evolve,start=(\d+)")


def _help_texts() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.choices and "game" in a.choices)
    return "\n".join(p.format_help() for p in sub.choices.values())


def _documents() -> list[tuple[str, str]]:
    out = [(str(p.relative_to(ROOT)), p.read_text()) for p in TEXTS]
    return [*out, ("--help", _help_texts())]


@pytest.mark.parametrize(("where", "text"), _documents(), ids=lambda x: x[:30])
def test_documented_versions_exist(where, text):
    for name, version in FIXED.findall(text):
        assert agents.resolve(f"zoo:{name}@{version}").is_file(), (where, name, version)
    for name, version in START.findall(text):
        spec = AgentSpec(f"zoo:{name}", evolving=True, start_version=int(version))
        assert start_version(spec) <= int(version), (where, name, version)


def test_the_documents_do_show_versions():
    found = sum(len(FIXED.findall(t)) + len(START.findall(t)) for _, t in _documents())
    assert found >= 4
