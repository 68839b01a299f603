"""Who can enter a game: agent specifications, evolving lineages, and loading them.

An ``AgentSpec`` is plain data (it travels to Ray workers and into the database as JSON): a
reference ``agents.load`` understands, the body, and whether it is an evolving opponent. An
evolving spec names a lineage; in round r of a game it plays version
``start_version + stride * r`` (capped at the newest stored version), freshly loaded each round, as
if it kept training by self-play between rounds.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agents
from agents.base import Agent
from agents.checkpoint import CheckpointError, file_sha256, read_meta
from agents.lineage import Lineage, LineageError
from envs.bodies import article

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgentSpec:
    """An entrant of games, tournaments and leagues.

    Attributes:
        ref: what ``agents.load`` accepts: "random", "idle", "zoo:<name>[@<version>]" or a
            checkpoint path; for an evolving spec, a lineage: "zoo:<lineage>[@<start>]" or the
            lineage's directory.
        body: "ant", "bug" or "spider"; required for built-ins, else read from the checkpoint.
        name: unique label in tables (default: the reference, with "+evolving" if it evolves).
        evolving: advance one lineage version (times ``stride``) per round.
        start_version: first version of an evolving spec (default: "@<start>" or the oldest).
        stride: versions advanced per round.
        kind: label for population shares (default: checkpoint kind or the built-in's name).
        deterministic: act with the policy's mean action instead of sampling.
        adaptation: how the agent changes during a game (``agents.load``): "own" (what its
            kind does), "none" (its policy frozen; MAML, NoRML: theta; RL^2: memory cleared every
            episode) or "tracking" (PPO updates on the game's recent episodes).
    """

    ref: str
    body: str | None = None
    name: str = ""
    evolving: bool = False
    start_version: int | None = None
    stride: int = 1
    kind: str = ""
    deterministic: bool = False
    adaptation: str = "own"

    def __post_init__(self) -> None:
        if not isinstance(self.ref, str) or not self.ref:
            raise ValueError(f"AgentSpec.ref must be a non-empty string, got {self.ref!r}")
        if self.body is not None:
            from envs.bodies import check_body

            check_body(self.body)
        if not isinstance(self.stride, int) or self.stride < 0:
            raise ValueError(f"AgentSpec.stride must be an integer >= 0, got {self.stride!r}")
        if self.adaptation not in agents.ADAPTATIONS:
            raise ValueError(f"AgentSpec.adaptation must be one of "
                             f"{', '.join(agents.ADAPTATIONS)}; got {self.adaptation!r}")
        if self.adaptation != "own" and (self.evolving or self.ref in agents.BUILTINS):
            raise ValueError("AgentSpec.adaptation applies to a fixed PPO or MAML checkpoint, "
                             "not to evolving lineages or built-ins")
        if self.start_version is not None and not self.evolving:
            raise ValueError("AgentSpec.start_version applies to evolving specs only; "
                             "pin a fixed version with 'zoo:<name>@<version>' instead")

    @property
    def label(self) -> str:
        """The name shown in tables."""
        if self.name:
            return self.name
        if self.evolving:
            return f"{self.ref}+evolving"
        return self.ref if self.adaptation == "own" else f"{self.ref}[{self.adaptation}]"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentSpec:
        """The spec ``to_dict`` described."""
        return cls(**data)


# ------------------------------------------------------------------ the REF[,key=value] grammar
#
# How entrants are written on command lines and in scripts: REF is "random", "idle",
# "zoo:<name>[@<version>]", a checkpoint path or (with ``evolve``) a lineage; keys are body, name,
# kind, start, stride, adapt; flags evolve and deterministic. Examples: ``random,body=bug``,
# ``zoo:selfplay-ant,evolve,start=60``, ``zoo:selfplay-bug,adapt=tracking``.

AGENT_HELP = ("REF[,body=B][,name=N][,kind=K][,evolve][,start=V][,stride=S][,deterministic]"
              "[,adapt=own|none|tracking]; REF: random, idle, zoo:<name>[@<version>], a "
              "checkpoint or (evolve) a lineage")
_FLAGS = {"evolve": "evolving", "deterministic": "deterministic"}
_VALUES = {"body": ("body", str), "name": ("name", str), "kind": ("kind", str),
           "start": ("start_version", int), "stride": ("stride", int),
           "adapt": ("adaptation", str)}


def parse_agent(text: str) -> AgentSpec:
    """An ``AgentSpec`` from ``REF[,key=value,...]``.

    Raises:
        ValueError: an unknown key or a value of the wrong type; the message lists the keys.
    """
    ref, *options = text.split(",")
    fields: dict[str, Any] = {}
    for option in options:
        key, eq, value = option.partition("=")
        if not eq and key in _FLAGS:
            fields[_FLAGS[key]] = True
        elif eq and key in _VALUES:
            name, kind = _VALUES[key]
            try:
                fields[name] = kind(value)
            except ValueError:
                raise ValueError(f"agent {text!r}: {key} must be an integer, "
                                 f"got {value!r}") from None
        else:
            raise ValueError(f"agent {text!r}: unknown option {option!r}; options are "
                             f"{', '.join(f'{k}=...' for k in _VALUES)}, {', '.join(_FLAGS)}")
    try:
        return AgentSpec(ref, **fields)
    except ValueError as err:  # in the user's terms: the option, not the dataclass field
        message = str(err)
        for key, (name, _) in _VALUES.items():
            message = message.replace(f"AgentSpec.{name}", key)
        for flag, name in _FLAGS.items():
            message = message.replace(f"AgentSpec.{name}", flag)
        raise ValueError(f"agent {text!r}: {message.removeprefix('AgentSpec.')}") from None


def lineage_of(spec: AgentSpec) -> tuple[Lineage, int | None]:
    """The lineage an evolving spec names and the version given with "@", if any."""
    from agents.refs import lineage_of_ref

    try:
        return lineage_of_ref(spec.ref)
    except ValueError as err:
        raise ValueError(f"evolving agent {spec.ref!r}: {err}") from None


def start_version(spec: AgentSpec) -> int:
    """The version an evolving spec plays in round 0."""
    lineage, at = lineage_of(spec)
    version = spec.start_version or at or lineage.versions()[0]
    try:  # versions are iterations: one between stored snapshots plays the nearest older one
        return lineage.at_or_before(version)
    except LineageError as err:
        raise ValueError(str(err)) from None


def version_for_round(spec: AgentSpec, round_index: int) -> int | None:
    """The lineage version an evolving spec plays in a round (None if it does not evolve).

    Past the newest snapshot the version stays at the newest one (a gap in the lineage falls back
    to the nearest older snapshot).
    """
    if not spec.evolving:
        return None
    lineage, _ = lineage_of(spec)
    target = start_version(spec) + spec.stride * round_index
    stored = [v for v in lineage.versions() if v <= target]
    return stored[-1]


def load_agent(spec: AgentSpec, seed: int | None, version: int | None = None) -> Agent:
    """An ``Agent`` for a spec (a given lineage version for an evolving spec)."""
    kwargs: dict[str, Any] = {"deterministic": True} if spec.deterministic else {}
    if spec.adaptation != "own":
        kwargs["adaptation"] = spec.adaptation
    if spec.evolving:
        lineage, _ = lineage_of(spec)
        path = lineage.path(version if version is not None else start_version(spec))
        return agents.load(str(path), body=spec.body, seed=seed, **kwargs)
    return agents.load(spec.ref, body=spec.body, seed=seed, **kwargs)


def checkpoint_path(spec: AgentSpec) -> Path | None:
    """The checkpoint file behind a spec (an evolving spec's start version); None for built-ins."""
    if spec.ref in agents.BUILTINS:
        return None
    if spec.evolving:
        lineage, _ = lineage_of(spec)
        return lineage.path(start_version(spec))
    return agents.resolve(spec.ref)


def describe(spec: AgentSpec) -> dict[str, Any]:
    """Validate a spec and return what a league records of it: body, kind, checkpoint hash.

    Raises:
        ValueError: unknown agent, body or lineage; a checkpoint that is refused or of a kind no
            loader is registered for; a body mismatch.
    """
    path = checkpoint_path(spec)
    if path is None:
        if spec.body is None:
            raise ValueError(f"the built-in agent {spec.ref!r} needs a body "
                             f"(ant, bug or spider)")
        return {"body": spec.body, "kind": spec.kind or spec.ref, "sha256": None}
    meta = read_meta(path)
    if meta.kind not in agents.LOADERS:
        raise ValueError(f"{path}: no loader for agent kind {meta.kind!r}; known kinds: "
                         f"{', '.join(sorted(agents.LOADERS))}")
    if spec.body is not None and meta.body is not None and meta.body != spec.body:
        raise ValueError(f"{spec.ref} controls {article(meta.body)}, not {article(spec.body)}")
    body = spec.body or meta.body
    if body is None:
        raise ValueError(f"checkpoint {path} records no body; give the agent a body")
    try:  # what a game would do with the spec: fail here, not as a forfeit of every game
        load_agent(dataclasses.replace(spec, body=body), seed=0)
    except (ValueError, TypeError, CheckpointError) as err:
        raise ValueError(f"{spec.label}: {err}") from None
    kind = meta.kind if spec.adaptation == "own" else f"{meta.kind}[{spec.adaptation}]"
    return {"body": body, "kind": spec.kind or kind, "sha256": file_sha256(path)}


def absolute(spec: AgentSpec) -> AgentSpec:
    """The spec with a relative checkpoint or lineage path made absolute (workers may run
    elsewhere); built-ins and zoo references are kept."""
    if spec.ref in agents.BUILTINS or spec.ref.startswith("zoo:"):
        return spec
    path, at, version = spec.ref.partition("@") if spec.evolving else (spec.ref, "", "")
    return dataclasses.replace(spec, ref=str(Path(path).absolute()) + at + version)


def with_body(spec: AgentSpec) -> AgentSpec:
    """The spec, validated, with its body filled in from the checkpoint and its path absolute."""
    return dataclasses.replace(absolute(spec), body=describe(spec)["body"])
