"""Lineages: the ordered snapshots (version 1..N) of one training run.

A lineage is a directory ``<root>/<name>/`` holding ``v0001.safetensors``, ``v0002.safetensors``,
... The "evolving opponent" of an iterated adaptation game is a lineage whose version advances each
round, and the paper's self-play curriculum samples an opponent version uniformly from [1, k].

File names are zero-padded to four digits so that a listing sorts; any number of digits is read. A
lineage assumes one writer (its training run); readers may run alongside it because every snapshot
is written atomically.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch

from agents.checkpoint import (
    SUFFIX,
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    save_checkpoint,
)

_VERSION_FILE = re.compile(r"^v(\d+)" + re.escape(SUFFIX) + r"$")
_PAD = 4


class LineageError(CheckpointError):
    """A lineage lacks the requested version, or a snapshot does not belong where it is stored."""


def _check_version(version: int) -> int:
    # bool is an int subclass; True is not a version number.
    if isinstance(version, bool) or not isinstance(version, int | np.integer) or version < 1:
        raise ValueError(f"lineage versions are integers >= 1, got {version!r}")
    return int(version)


class Lineage:
    """The snapshots of one training run, stored as ``<root>/<name>/vNNNN.safetensors``.

    Args:
        root: Directory holding lineages; it and the lineage directory are made on the first save.
        name: Lineage name: non-empty, a single path component (no '/', '\\\\' or '..'), not hidden.

    Raises:
        ValueError: If the name is not acceptable.
    """

    def __init__(self, root: Path | str, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"lineage name must be a non-empty string, got {name!r}")
        separators = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
        if any(sep in name for sep in separators) or ".." in name or "\0" in name:
            raise ValueError(
                f"lineage name {name!r} must be a single directory name: no path separators, "
                f"'..' or NUL characters"
            )
        if name.startswith(".") or name != name.strip():
            raise ValueError(
                f"lineage name {name!r} must not start with '.' or have surrounding whitespace"
            )
        self.root = Path(root)
        self.name = name

    @property
    def directory(self) -> Path:
        """The directory holding this lineage's snapshots."""
        return self.root / self.name

    def __repr__(self) -> str:
        return f"Lineage(root={str(self.root)!r}, name={self.name!r})"

    def _files(self) -> dict[int, Path]:
        if not self.directory.is_dir():
            return {}
        found: dict[int, Path] = {}
        for entry in self.directory.iterdir():
            match = _VERSION_FILE.match(entry.name)
            if match is None or not entry.is_file():
                continue
            version = int(match.group(1))
            if version < 1:
                continue
            if version in found:
                # v1 and v0001 both present: which one is version 1 is undecidable, so say so.
                raise LineageError(
                    f"lineage {self.name!r} has two files for version {version}: "
                    f"{found[version].name} and {entry.name}; keep one"
                )
            found[version] = entry
        return found

    def path(self, version: int) -> Path:
        """Return the file of ``version``: the existing one if any, else the zero-padded name."""
        version = _check_version(version)
        existing = self._files().get(version)
        if existing is not None:
            return existing
        return self.directory / f"v{version:0{_PAD}d}{SUFFIX}"

    def versions(self) -> list[int]:
        """Return the stored versions, ascending (only files named ``v<digits>.safetensors``)."""
        return sorted(self._files())

    def latest(self) -> int | None:
        """Return the highest stored version, or None if the lineage is empty."""
        versions = self.versions()
        return versions[-1] if versions else None

    def __len__(self) -> int:
        return len(self.versions())

    def __iter__(self) -> Iterator[int]:
        return iter(self.versions())

    def save(
        self,
        version: int,
        tensors: Mapping[str, torch.Tensor],
        meta: CheckpointMeta,
        overwrite: bool = False,
    ) -> Path:
        """Store a snapshot as ``version``, stamping meta.lineage and meta.version.

        Args:
            version: Snapshot number, >= 1.
            tensors: As for :func:`agents.checkpoint.save_checkpoint`.
            meta: Metadata; its lineage and version fields are replaced by this lineage's.
            overwrite: Allow replacing an existing snapshot of the same version.

        Returns:
            The path written.

        Raises:
            ValueError: version < 1, or anything save_checkpoint refuses.
            FileExistsError: The version exists and overwrite is False.
        """
        version = _check_version(version)
        target = self.path(version)
        if target.exists() and not overwrite:
            raise FileExistsError(
                f"lineage {self.name!r} already has version {version} ({target}); "
                f"pass overwrite=True to replace it"
            )
        stamped = dataclasses.replace(meta, lineage=self.name, version=version)
        return save_checkpoint(target, tensors, stamped)

    def load(
        self, version: int, expected_kind: str | None = None
    ) -> tuple[dict[str, torch.Tensor], CheckpointMeta]:
        """Load snapshot ``version``.

        Args:
            version: Snapshot number, >= 1.
            expected_kind: If given, the snapshot's kind must equal it.

        Returns:
            (tensors, metadata) as from :func:`agents.checkpoint.load_checkpoint`.

        Raises:
            LineageError: The version is not stored (the message lists those that are), or the
                file's metadata names another lineage or version (it was copied by hand).
            CheckpointError: The file itself is refused.
        """
        version = _check_version(version)
        files = self._files()
        if version not in files:
            raise LineageError(
                f"lineage {self.name!r} in {str(self.root)!r} has no version {version}; "
                f"available: {_describe(sorted(files))}"
            )
        tensors, meta = load_checkpoint(files[version], expected_kind=expected_kind)
        if meta.lineage != self.name or meta.version != version:
            raise LineageError(
                f"snapshot {str(files[version])!r} says it is lineage {meta.lineage!r} version "
                f"{meta.version!r}, but is stored as lineage {self.name!r} version {version}"
            )
        return tensors, meta

    def at_or_before(self, version: int) -> int:
        """The stored version that plays as ``version``: itself, or the nearest older one.

        Version numbers are training iterations and a lineage may keep only some of them (the
        zoo keeps every 4th), so any version between the first and the newest stored one names
        a snapshot.

        Raises:
            LineageError: ``version`` lies outside the stored range (the message gives it).
        """
        version = _check_version(version)
        stored = self.versions()
        if not stored or not stored[0] <= version <= stored[-1]:
            span = (f"run from {stored[0]} to {stored[-1]} ({len(stored)} snapshots)" if stored
                    else "are none")
            raise LineageError(f"lineage {self.name!r} has no version {version}; its versions "
                               f"{span}")
        return max(v for v in stored if v <= version)

    def sample_version(self, rng: np.random.Generator, k: int) -> int:
        """Draw uniformly among the stored versions <= k (the paper's curriculum: one in [1, k]).

        Args:
            rng: Source of randomness, for reproducible schedules.
            k: Highest version allowed, >= 1.

        Returns:
            A stored version in [1, k].

        Raises:
            ValueError: k < 1.
            LineageError: No stored version is <= k.
        """
        k = _check_version(k)
        candidates = [v for v in self.versions() if v <= k]
        if not candidates:
            raise LineageError(
                f"lineage {self.name!r} has no version <= {k}; "
                f"available: {_describe(self.versions())}"
            )
        return candidates[int(rng.integers(len(candidates)))]


def _describe(versions: list[int]) -> str:
    return ", ".join(str(v) for v in versions) if versions else "none"
