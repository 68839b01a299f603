"""Record how every zoo agent plays (``tests/agents/data/zoo_actions.json``), for the test that
checks it still plays so after a change of the code around it.

For every zoo name: the agent ``agents.load("zoo:<name>", seed=0)`` (the latest version of a
lineage) acts for ``STEPS`` steps of its checkpoint's env from reset seed 0, against the idle
robot in RoboSumo; the actions are recorded. Run it only when the zoo itself changes:

    python tests/agents/zoo_golden.py
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium
import numpy as np

import agents
import envs.nonstationary_locomotion
import envs.robosumo  # noqa: F401
from agents.checkpoint import read_meta

STEPS = 6
OUT = Path(__file__).resolve().parent / "data" / "zoo_actions.json"
ZOO = Path(agents.__file__).resolve().parent / "zoo"


def play(name: str) -> dict:
    path = agents.resolve(f"zoo:{name}")
    meta = read_meta(path)
    agent = agents.load(f"zoo:{name}", seed=0)
    agent.reset()
    env_id = meta.env_id
    kwargs = {"opponent": "idle"} if env_id.startswith("RoboSumo-") else {}
    env = gymnasium.make(env_id, **kwargs)
    obs, _ = env.reset(seed=0)
    actions = []
    for _ in range(STEPS):
        action = np.asarray(agent.act(obs), dtype=np.float64)
        actions.append(action.tolist())
        obs, reward, terminated, truncated, _ = env.step(action)
        agent.observe(action, float(reward), obs, terminated, truncated)
    env.close()
    return {"file": path.relative_to(ZOO).as_posix(), "kind": meta.kind, "env_id": env_id,
            "actions": actions}


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    record = {name: play(name) for name in agents.zoo_names()}
    OUT.write_text(json.dumps(record, indent=1) + "\n")
    print(f"{len(record)} zoo agents recorded in {OUT}")


if __name__ == "__main__":
    main()
