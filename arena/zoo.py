"""``arena zoo``: the trained agents shipped in ``agents/zoo``, with their provenance.

Every entry is a single checkpoint (``<name>.safetensors``) or a lineage (``<name>/vNNNN``),
loadable as ``zoo:<name>`` (a lineage: its newest version) or ``zoo:<name>@<version>``. Provenance
comes from the checkpoint's metadata: kind, body, environment, training budget and the date it
was saved; the command that produced it is recorded in its metadata or, for the zoo's own
lineages, known from the script that writes them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from typing import Any

REPLICATE = re.compile(r"-seed\d+$")  # further training seeds of an entry: <name>-seed<k>


def seed_name(name: str, seed: int) -> str:
    """The zoo name of training seed ``seed`` of ``name``: the name itself for seed 0, else
    ``<name>-seed<k>`` (a replicate)."""
    return f"{name}-seed{seed}" if seed else name


def is_replicate(name: str) -> bool:
    """Whether a zoo name is a further training seed (``seed_name`` with seed > 0)."""
    return REPLICATE.search(name) is not None


# Name prefix -> the committed script that produces those zoo entries (when the metadata has none).
PRODUCERS = {
    "selfplay-": "python scripts/selfplay_lineages.py",
    # the locomotion agents of the adaptation comparison (docs/results.md has the full command)
    "maml-locomotion-": "python scripts/locomotion_adaptation.py --step-size-lr 1e-5",
    "ppo-locomotion-": "python scripts/locomotion_adaptation.py",
    "rl2-locomotion-": "arena train rl2 --total-steps 1500000",
    # the RoboSumo meta-learners of the population experiments, one per body and method
    "maml-sumo-": "python scripts/population_zoo.py --save-zoo",
    "rl2-sumo-": "python scripts/population_zoo.py --save-zoo",
    "norml-sumo-": "python scripts/population_zoo.py --save-zoo",
}


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One zoo entry and where it came from.

    Attributes:
        name: what follows ``zoo:``.
        kind: checkpoint kind (ppo-mlp, maml, rl2, ...).
        body: robot body, or None.
        env_id: environment it was trained on, or None.
        versions: lineage versions stored in the zoo (empty for a single checkpoint).
        iteration: training iteration of the newest snapshot, if recorded.
        env_steps: environment steps of training at the newest snapshot, if recorded.
        budget: total steps (or iterations) the training run was configured for, if recorded.
        date: when the newest snapshot was saved, if recorded.
        command: the command that produced it, if known.
    """

    name: str
    kind: str
    body: str | None
    env_id: str | None
    versions: tuple[int, ...]
    iteration: int | None
    env_steps: int | None
    budget: str | None
    date: str | None
    command: str | None

    @property
    def sumo(self) -> bool:
        """Whether it plays RoboSumo (can enter games, tournaments and the demo)."""
        return bool(self.env_id and self.env_id.startswith("RoboSumo") and self.body)


def _budget(config: dict[str, Any]) -> str | None:
    """The run's budget, from the training settings a checkpoint records (``train`` for PPO,
    ``maml`` / ``maml_sumo`` for MAML, the top level for the others)."""
    sections = [config.get(k) for k in ("train", "maml", "maml_sumo")] + [config]
    for settings in sections:
        if not isinstance(settings, dict):
            continue
        for key, unit in (("total_steps", "steps"), ("iterations", "iterations"),
                          ("meta_iterations", "meta-iterations")):
            if isinstance(settings.get(key), int):
                return f"{settings[key]:,} {unit}"
    return None


def zoo_entries() -> list[ZooEntry]:
    """Every zoo entry, by name; metadata read from the newest snapshot.

    Raises:
        CheckpointError: if a zoo file is malformed (the message names it).
    """
    import agents
    from agents.checkpoint import read_meta
    from agents.lineage import Lineage

    entries = []
    for name in agents.zoo_names():
        lineage = Lineage(agents.ZOO_DIR, name)
        versions = tuple(lineage.versions()) if lineage.directory.is_dir() else ()
        meta = read_meta(agents.resolve(f"zoo:{name}"))
        extra = meta.extra
        producer = next((cmd for prefix, cmd in PRODUCERS.items() if name.startswith(prefix)),
                        None)
        entries.append(ZooEntry(name, meta.kind, meta.body, meta.env_id, versions,
                                extra.get("iteration"), extra.get("env_steps"),
                                _budget(meta.config), extra.get("saved_at"),
                                extra.get("command") or producer))
    return entries


def zoo_table(entries: list[ZooEntry]) -> str:
    """The entries as a Markdown table."""
    lines = ["| name | kind | body | env | versions | trained | budget | saved | command |",
             "|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        versions = (f"{len(e.versions)}: v{e.versions[0]}..v{e.versions[-1]}" if e.versions
                    else "single")
        trained = ", ".join(x for x in (
            f"{e.iteration} iterations" if e.iteration is not None else "",
            f"{e.env_steps:,} steps" if e.env_steps is not None else "") if x) or "-"
        lines.append(f"| {e.name} | {e.kind} | {e.body or '-'} | {e.env_id or '-'} | {versions} "
                     f"| {trained} | {e.budget or '-'} | {e.date or '-'} | "
                     f"{_command(e.command)} |")
    return "\n".join(lines)


def _command(command: str | None) -> str:
    """The producing command; a results script lives in the repository, not in an install."""
    if not command:
        return "-"
    where = " (in a clone of the repository)" if command.startswith("python scripts/") else ""
    return f"`{command}`{where}"


def add_zoo_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``arena zoo``."""
    p = sub.add_parser("zoo", help="list the trained agents in agents/zoo with their provenance",
                       description="List the zoo: single checkpoints and lineages, their kind, "
                                   "body, versions, training budget, date and the command that "
                                   "produced them. Load one as zoo:<name> or "
                                   "zoo:<name>@<version>.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_zoo_command)
    zoo_sub = p.add_subparsers(dest="zoo_command", metavar="{import-robosumo}")
    imp = zoo_sub.add_parser(
        "import-robosumo", help="convert the original RoboSumo policies (your own copy)",
        description="Convert the 18 pretrained policies of the original RoboSumo (openai/robosumo, "
                    "robosumo/policy_zoo/assets: SRC/<body>/<mlp|lstm>/agent-params-v<k>.npy) "
                    "into checkpoints OUT/robosumo-<body>-<mlp|lstm>-v<k>.safetensors that every "
                    "command plays (arena match, game, tournament, watch). The original "
                    "repository has no license file: the converted files are for your own "
                    "evaluation and are never part of the zoo.")
    imp.add_argument("src", help="the original policy_zoo/assets folder")
    imp.add_argument("--out", required=True, help="folder for the converted checkpoints")
    imp.set_defaults(func=_import_command)


def _import_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from agents.robosumo_original import import_robosumo

    try:
        written = import_robosumo(args.src, args.out)
    except ValueError as err:
        raise SystemExit(f"arena zoo import-robosumo: {err}") from None
    for path in written:
        print(path)
    first = Path(written[0])
    print(f"{len(written)} policies converted; play one with e.g. "
          f"arena match {first} idle,body={first.stem.split('-')[1]}")
    return 0


def _zoo_command(args: argparse.Namespace) -> int:
    import agents

    entries = zoo_entries()
    if args.json:
        print(json.dumps([dataclasses.asdict(e) for e in entries], indent=2))
        return 0
    if not entries:
        print(f"the zoo is empty: {agents.ZOO_DIR} holds no checkpoints; "
              f"`python scripts/selfplay_lineages.py` trains the self-play lineages")
        return 0
    print(zoo_table(entries))
    print("\nload one as zoo:<name> (a lineage's newest version) or zoo:<name>@<version>")
    return 0
