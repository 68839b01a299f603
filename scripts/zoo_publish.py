"""Publish snapshots of a zoo training run into the shipped zoo's lineage of its body.

The zoo's lineage ``zoo:selfplay-<body>`` (``agents/zoo/selfplay-<body>/``) grows by appending: a
published snapshot becomes the lineage's next version, so every version already shipped keeps
its number and its weights (references such as ``zoo:selfplay-bug@8``, the pinned default
opponents of the ``-Zoo`` Gymnasium ids and the games recorded against them stay valid), and the
newest version, what ``zoo:selfplay-<body>`` names, is the newest published. The tensors are
copied unchanged; the metadata keeps the run's record (iteration, arena steps, date) and adds
where the snapshot came from (``published_from``: the run, its version there and the file's
sha256) and the command that trained it.

What is published: the run's snapshots at every ``--every``-th iteration from ``--from-steps``
arena steps on, up to ``--upto`` (default: the newest), and ``--upto`` itself (alone with
``--every 0``), that have more arena steps than what the zoo already holds of that run (for a
run continued from a copy of another: also more than the copy had); so running it again after
more training appends only the new ones. The zoo must stay under ``--max-mb`` (60 MB): a
publication that would pass it is refused before anything is written. After publishing,
re-record the zoo's golden actions (``python tests/agents/zoo_golden.py``).

Usage:
    python scripts/zoo_publish.py --run training/zoo2/selfplay-ant --upto 460 --every 100
        [--from-steps 2000000] [--command "python scripts/zoo_training.py --recipe 2"]
        [--zoo agents/zoo] [--dry-run]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import replace
from pathlib import Path

from resultsdoc import ROOT, relative

from agents.checkpoint import load_checkpoint, read_meta
from agents.lineage import Lineage

MAX_MB = 60.0


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shown(path: Path) -> str:
    """``path`` as the messages and the metadata name it: relative to the repository."""
    return relative(path).as_posix()


def run_lineage(run: Path) -> Lineage:
    """The lineage of snapshots a training run keeps (``<run>/lineage/<name>``)."""
    found = sorted(p for p in (run / "lineage").glob("*") if p.is_dir())
    if len(found) != 1:
        raise SystemExit(f"zoo_publish: --run {shown(run)} must hold one lineage under lineage/, "
                         f"found {len(found)}")
    return Lineage(found[0].parent, found[0].name)


def steps_of(lineage: Lineage, version: int) -> int:
    """The arena steps a snapshot records (0 where it records none)."""
    steps = read_meta(lineage.path(version)).extra.get("env_steps", 0)
    return steps if isinstance(steps, int) else 0


def selection(source: Lineage, every: int, from_steps: int, upto: int | None,
              after_steps: int) -> list[int]:
    """The run's versions to publish, ascending: every ``every``-th iteration with at least
    ``from_steps`` arena steps, and ``upto`` (default: the newest), all with more arena steps
    than ``after_steps`` (what the zoo already holds of this run)."""
    versions = source.versions()
    if not versions:
        raise SystemExit(f"zoo_publish: {shown(source.directory)} holds no snapshots")
    upto = versions[-1] if upto is None else upto
    if upto not in versions:
        raise SystemExit(f"zoo_publish: --upto {upto} is not a snapshot of the run; it has "
                         f"{versions[0]}..{versions[-1]} ({len(versions)} kept)")
    chosen = []
    for v in versions:
        if v > upto:
            break
        steps = steps_of(source, v)
        if steps > after_steps and (v == upto or (every and v % every == 0
                                                  and steps >= from_steps)):
            chosen.append(v)
    return chosen


def published_steps(run: Path, source: Lineage, target: Lineage) -> int:
    """The arena steps up to which the zoo already holds this run: its newest snapshot published
    from the run or identical to one of the run's files, and, for a run continued from a copy of
    another (``budget.json``'s ``continued_from``), the steps the copy ended at (the snapshots
    before are the other run's, published or not from there)."""
    origin = shown(run)
    mine = {sha256(source.path(v)) for v in source.versions()}
    steps = [0]
    for w in target.versions():
        record = read_meta(target.path(w)).extra.get("published_from") or {}
        if record.get("run") == origin or record.get("sha256") in mine:
            steps.append(steps_of(target, w))
    budget = run / "budget.json"
    if budget.exists():
        continued = json.loads(budget.read_text()).get("continued_from") or {}
        if isinstance(continued.get("env_steps"), int):
            steps.append(continued["env_steps"])
    return max(steps)


def publish(run: Path, zoo: Path, every: int, from_steps: int, upto: int | None,
            command: str | None, max_mb: float = MAX_MB, dry_run: bool = False) -> list[str]:
    """Append the selected snapshots of ``run`` to the zoo's lineage; one line per snapshot."""
    source = run_lineage(run)
    target = Lineage(zoo, source.name)
    if not target.directory.is_dir():
        raise SystemExit(f"zoo_publish: the zoo has no lineage {source.name!r} under "
                         f"{shown(zoo)} (this script extends a shipped lineage)")
    body = read_meta(source.path(source.versions()[-1])).body
    zoo_body = read_meta(target.path(target.latest())).body
    if body != zoo_body:
        raise SystemExit(f"zoo_publish: the run's robot is {body!r}, the zoo's lineage "
                         f"{source.name!r} is {zoo_body!r}")
    origin = shown(run)
    chosen = selection(source, every, from_steps, upto, published_steps(run, source, target))
    if not chosen:
        return []
    size = sum(p.stat().st_size for p in zoo.rglob("*") if p.is_file())
    adding = sum(source.path(v).stat().st_size + 1024 for v in chosen)  # + the new metadata
    if (size + adding) / 1e6 > max_mb:
        raise SystemExit(f"zoo_publish: the zoo would grow to {(size + adding) / 1e6:.1f} MB "
                         f"(limit {max_mb:g} MB); publish fewer snapshots (--every, --from-steps)")
    lines = []
    version = target.latest() or 0
    for v in chosen:
        version += 1
        path = source.path(v)
        meta = read_meta(path)
        extra = dict(meta.extra, published_from={"run": origin, "version": v,
                                                 "sha256": sha256(path)})
        if command:
            extra["command"] = command
        steps = meta.extra.get("env_steps")
        lines.append(f"{source.name} v{version}: {origin} v{v}"
                     + (f" ({steps:,} arena steps)" if isinstance(steps, int) else ""))
        if not dry_run:
            tensors, _ = load_checkpoint(path)
            target.save(version, tensors, replace(meta, extra=extra))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True,
                        help="a zoo training run directory (e.g. training/zoo2/selfplay-ant)")
    parser.add_argument("--every", type=int, default=100,
                        help="publish every N-th iteration (default 100, about 1 M arena steps; 0: "
                             "--upto alone)")
    parser.add_argument("--from-steps", type=int, default=0,
                        help="publish only snapshots with at least this many arena steps")
    parser.add_argument("--upto", type=int, default=None,
                        help="the newest run version to publish (default: the run's newest)")
    parser.add_argument("--command", default=None,
                        help="the command that trained the run (recorded in the metadata)")
    parser.add_argument("--zoo", type=Path, default=ROOT / "agents" / "zoo")
    parser.add_argument("--max-mb", type=float, default=MAX_MB)
    parser.add_argument("--dry-run", action="store_true", help="say what would be published")
    args = parser.parse_args()
    if args.every < 0:
        parser.error(f"--every must be an integer >= 0, got {args.every}")
    lines = publish(args.run, args.zoo, args.every, args.from_steps, args.upto, args.command,
                    args.max_mb, args.dry_run)
    for line in lines:
        print(("would publish " if args.dry_run else "published ") + line)
    if not lines:
        print("nothing new to publish", file=sys.stderr)
    elif not args.dry_run:
        print("now re-record the zoo's golden actions: python tests/agents/zoo_golden.py",
              file=sys.stderr)


if __name__ == "__main__":
    main()
