"""scripts/zoo_training.py: the recipes and a run continued from another recipe's run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def zoo_training(script):
    return script("zoo_training")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {prefix + k: v})
    return out


def test_recipes_differ_from_the_one_they_continue_in_one_setting(zoo_training):
    for recipe, source in zoo_training.CONTINUES.items():
        new, old = zoo_training.config("ant", recipe=recipe), zoo_training.config(
            "ant", recipe=source)
        a, b = _flat(new.to_dict()), _flat(old.to_dict())
        assert a.keys() == b.keys()
        changed = [k for k in a if a[k] != b[k]]
        assert len(changed) == 1, (recipe, changed)
    assert zoo_training.config("bug", recipe=5).ppo.target_kl == 0.02
    assert zoo_training.config("bug", recipe=4).ppo.target_kl is None
    assert zoo_training.config("bug", recipe=7).idle_fraction == 0.5
    assert zoo_training.config("bug", recipe=6).idle_fraction == 0.2


def make_run(run: Path, steps: int, budget_extra: dict | None = None) -> None:
    (run / "lineage" / "selfplay-ant").mkdir(parents=True)
    (run / "lineage" / "selfplay-ant" / "v0010.safetensors").write_bytes(b"snapshot")
    (run / "state.safetensors").write_bytes(b"state")
    (run / "config.json").write_text("{}")
    (run / "metrics.csv").write_text("iteration\n1\n")
    (run / "budget.json").write_text(json.dumps(
        {"invocations": [{"steps": steps}], "env_steps": steps, **(budget_extra or {})}))


def test_a_continued_run_copies_the_run_and_keeps_the_chain_of_origins(zoo_training, tmp_path,
                                                                        monkeypatch):
    monkeypatch.setattr(zoo_training, "ROOT", tmp_path)
    source, target = tmp_path / "zoo4" / "selfplay-ant", tmp_path / "zoo5" / "selfplay-ant"
    earlier = {"run": "zoo2/selfplay-ant", "env_steps": 50, "invocations": 1}
    make_run(source, 80, {"continued_from": earlier})
    assert zoo_training.continue_run(source, target)
    assert (target / "state.safetensors").read_bytes() == b"state"
    assert (target / "lineage" / "selfplay-ant" / "v0010.safetensors").exists()
    assert not (target / "config.json").exists()  # the continuing recipe writes its own
    budget = json.loads((target / "budget.json").read_text())
    assert budget["continued_from"] == {"run": "zoo4/selfplay-ant", "env_steps": 80,
                                        "invocations": 1, "earlier": earlier}
    assert not target.with_name("selfplay-ant.copying").exists()
    assert (source / "state.safetensors").exists()  # the source run is left as it was
    # a target that holds a run, or a source without one, is not copied (again)
    (target / "state.safetensors").write_bytes(b"trained on")
    assert not zoo_training.continue_run(source, target)
    assert (target / "state.safetensors").read_bytes() == b"trained on"
    assert not zoo_training.continue_run(tmp_path / "none", tmp_path / "zoo5" / "selfplay-bug")
