"""The one parser of agent references: built-ins, ``zoo:<name>[@<version>]``, paths, lineages.

Every command and config that names an agent or a lineage goes through here, so that
``zoo:selfplay-bug@4`` means the same everywhere and a name cannot lead out of the zoo.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from agents.lineage import Lineage

BUILTINS = ("random", "idle")
ZOO_PREFIX = "zoo:"
# a zoo name is one file or folder of agents/zoo: no separators, no '..', not hidden
ZOO_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*")
ZOO_DIR = Path(__file__).parent / "zoo"  # the zoo's home; point it elsewhere here


def zoo_dir() -> Path:
    """The zoo folder: ``agents.refs.ZOO_DIR`` (which tests and users may point elsewhere;
    ``agents.ZOO_DIR`` reads it)."""
    return ZOO_DIR


@dataclass(frozen=True)
class Ref:
    """A parsed reference.

    Attributes:
        kind: "builtin", "zoo" or "path".
        name: the built-in's name, the zoo name, or the path as written.
        version: the version after "@", if any.
    """

    kind: str
    name: str
    version: int | None = None


def parse_ref(text: str) -> Ref:
    """Parse ``random``, ``idle``, ``zoo:<name>[@<version>]`` or a path (``dir@<version>`` for a
    lineage directory).

    Raises:
        ValueError: an empty or unsafe zoo name, or a version that is not a positive integer.
        TypeError: ``text`` is neither a string nor a path.
    """
    if isinstance(text, os.PathLike):  # a checkpoint path given as a Path
        text = os.fspath(text)
    if not isinstance(text, str):
        raise TypeError(f"an agent reference is a string ('random', 'idle', 'zoo:<name>' or a "
                        f"checkpoint path) or a path, got {type(text).__name__}")
    if text in BUILTINS:
        return Ref("builtin", text)
    if text.startswith(ZOO_PREFIX):
        name, at, version = text[len(ZOO_PREFIX):].partition("@")
        if not name:
            raise ValueError(f"unknown zoo agent ''; the zoo has: {', '.join(zoo_names()) or '-'}")
        if not ZOO_NAME.fullmatch(name):
            raise ValueError(f"unknown zoo agent {name!r}: zoo names are letters, digits, '.', "
                             f"'_' and '-' (no '/', '..' or absolute paths); the zoo has: "
                             f"{', '.join(zoo_names()) or '-'}")
        return Ref("zoo", name, _version(text, version) if at else None)
    path, at, version = text.rpartition("@") if "@" in Path(text).name else (text, "", "")
    return Ref("path", path if at else text, _version(text, version) if at else None)


def _version(text: str, version: str) -> int:
    if not version.isdigit() or int(version) < 1:
        raise ValueError(f"{text!r}: the version after '@' must be a positive integer, "
                         f"got {version!r}")
    return int(version)


def zoo_names() -> list[str]:
    """Names of the zoo's single checkpoints and lineages."""
    root = zoo_dir()
    if not root.is_dir():
        return []
    singles = [p.stem for p in root.glob("*.safetensors")]
    lineages = [p.name for p in root.iterdir() if p.is_dir() and any(p.glob("v*.safetensors"))]
    return sorted(singles + lineages)


def lineage_of_ref(text: str) -> tuple[Lineage, int | None]:
    """The lineage a reference names (``zoo:<lineage>[@v]`` or a directory ``[@v]``) and the
    version given with "@", if any.

    Raises:
        ValueError: the reference is malformed or names no lineage with snapshots.
    """
    ref = parse_ref(text)
    if ref.kind == "builtin":
        raise ValueError(f"{text!r} is a built-in agent, not a lineage")
    path = Path(ref.name)
    lineage = (Lineage(zoo_dir(), ref.name) if ref.kind == "zoo"
               else Lineage(path.parent, path.name))
    if not lineage.versions():
        raise ValueError(f"{text!r} names no lineage with snapshots: expected 'zoo:<lineage>' or "
                         f"a directory of v<N>.safetensors files")
    return lineage, ref.version


def resolve(ref: str) -> Path:
    """The checkpoint file a ``zoo:`` reference or a path points to."""
    parsed = parse_ref(ref)
    if parsed.kind != "zoo":
        path = Path(ref)
        if not path.is_file():
            raise ValueError(f"unknown agent {ref!r}: not a built-in ({', '.join(BUILTINS)}), "
                             f"not zoo:<name>, and no checkpoint file at that path")
        return path
    single = zoo_dir() / f"{parsed.name}.safetensors"
    if single.is_file() and parsed.version is None:
        return single
    lineage = Lineage(zoo_dir(), parsed.name)
    if not lineage.versions():
        raise ValueError(f"unknown zoo agent {parsed.name!r}; the zoo has: "
                         f"{', '.join(zoo_names()) or '-'}")
    if parsed.version is None:
        return lineage.path(lineage.latest())
    # any version in the stored range names the snapshot that plays as it (the nearest older)
    return lineage.path(lineage.at_or_before(parsed.version))
