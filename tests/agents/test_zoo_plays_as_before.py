"""Every zoo agent plays exactly as recorded (``data/zoo_actions.json``, written by
``zoo_golden.py``): the code around the checkpoints may move, the agents may not change."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import agents

_spec = importlib.util.spec_from_file_location("zoo_golden", Path(__file__).with_name(
    "zoo_golden.py"))
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
RECORDED = json.loads(golden.OUT.read_text())


def test_every_zoo_agent_has_a_record():
    assert sorted(RECORDED) == sorted(agents.zoo_names())


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_a_zoo_agent_plays_as_recorded(name):
    want = RECORDED[name]
    got = golden.play(name)
    assert (got["file"], got["kind"], got["env_id"]) == (want["file"], want["kind"],
                                                         want["env_id"])
    # float32 policies in float64 physics: two CPU models (different vector code in torch and
    # MuJoCo) were seen to differ by up to 6e-6 over the 6 steps; a change of the code around
    # the agents moves actions by far more than the tolerance
    np.testing.assert_allclose(got["actions"], want["actions"], rtol=1e-5, atol=1e-5)
