"""Lineages: ordered snapshots of one run, safe names, no silent overwrites, curriculum sampling."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.checkpoint import CheckpointError, CheckpointMeta, save_checkpoint
from agents.lineage import Lineage, LineageError

META = CheckpointMeta(kind="ppo-mlp", body="bug", env_id=None, config={"lr": 1e-3})


def weights(version: int) -> dict[str, torch.Tensor]:
    return {"w": torch.full((2, 2), float(version)), "obs_norm.count": torch.tensor([version])}


def test_versions_are_sorted_numerically_and_loadable(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run-a")
    assert lineage.versions() == [] and lineage.latest() is None and len(lineage) == 0
    for version in (1, 3, 2, 10):
        lineage.save(version, weights(version), META)
    assert lineage.versions() == [1, 2, 3, 10]
    assert list(lineage) == [1, 2, 3, 10]
    assert len(lineage) == 4 and lineage.latest() == 10
    assert lineage.path(3) == tmp_path / "run-a" / "v0003.safetensors"
    for version in lineage:
        tensors, meta = lineage.load(version, expected_kind="ppo-mlp")
        assert torch.equal(tensors["w"], weights(version)["w"])
        assert meta.lineage == "run-a" and meta.version == version
        assert meta.config == META.config and meta.body == "bug"


def test_foreign_files_are_ignored_and_any_padding_is_read(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    lineage.save(2, weights(2), META)
    # A snapshot written with a different padding still counts, stray files do not.
    shutil.copy(lineage.path(2), lineage.directory / "v12345.safetensors")
    for stray in ("notes.txt", "v3.pt", "best.safetensors", "v0x.safetensors", "v0000.safetensors"):
        (lineage.directory / stray).write_text("x")
    (lineage.directory / "v0007.safetensors").mkdir()
    assert lineage.versions() == [2, 12345]
    assert lineage.path(12345).name == "v12345.safetensors"


def test_duplicate_files_for_one_version_are_reported(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    lineage.save(1, weights(1), META)
    shutil.copy(lineage.path(1), lineage.directory / "v1.safetensors")
    with pytest.raises(LineageError, match=r"two files for version 1"):
        lineage.versions()


def test_save_refuses_overwrite_unless_asked(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    lineage.save(1, weights(1), META)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        lineage.save(1, weights(5), META)
    assert torch.equal(lineage.load(1)[0]["w"], weights(1)["w"])
    lineage.save(1, weights(5), META, overwrite=True)
    assert torch.equal(lineage.load(1)[0]["w"], weights(5)["w"])


@pytest.mark.parametrize("version", [0, -1, True, 1.0])
def test_save_refuses_bad_versions(tmp_path: Path, version: object) -> None:
    with pytest.raises(ValueError, match=">= 1"):
        Lineage(tmp_path, "run").save(version, weights(1), META)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["", "a/b", "a\\b", "..", "../up", "a..b", ".hidden", " x", "a\0b"]
)
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="lineage name"):
        Lineage(tmp_path, name)


def test_missing_version_lists_available(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    with pytest.raises(LineageError, match="no version 1; available: none"):
        lineage.load(1)
    lineage.save(1, weights(1), META)
    lineage.save(4, weights(4), META)
    with pytest.raises(LineageError, match="no version 2; available: 1, 4"):
        lineage.load(2)


def test_load_checks_kind_and_stored_identity(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    lineage.save(1, weights(1), META)
    with pytest.raises(CheckpointError, match="expected 'maml'"):
        lineage.load(1, expected_kind="maml")
    # A snapshot copied by hand into another lineage or version is not silently accepted.
    shutil.copy(lineage.path(1), lineage.directory / "v0002.safetensors")
    with pytest.raises(
        LineageError, match=r"lineage .run. version 1, but is stored as .* version 2"
    ):
        lineage.load(2)
    other = Lineage(tmp_path, "other")
    other.directory.mkdir()
    shutil.copy(lineage.path(1), other.path(1))
    with pytest.raises(LineageError, match="stored as lineage 'other'"):
        other.load(1)
    # A checkpoint without lineage information does not belong to any lineage either.
    save_checkpoint(other.directory / "v0003.safetensors", weights(3), META)
    with pytest.raises(LineageError, match="lineage None version None"):
        other.load(3)


def test_sample_version_stays_within_k_and_covers_it(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    for version in (1, 2, 3, 5, 8):
        lineage.save(version, weights(version), META)
    rng = np.random.default_rng(0)
    draws = [lineage.sample_version(rng, 5) for _ in range(400)]
    assert set(draws) == {1, 2, 3, 5}
    assert all(isinstance(d, int) for d in draws)
    counts = np.bincount(draws)[[1, 2, 3, 5]]
    assert counts.min() > 60  # uniform: about 100 each
    assert lineage.sample_version(rng, 1) == 1
    assert {lineage.sample_version(rng, 100) for _ in range(200)} == {1, 2, 3, 5, 8}


def test_sample_version_is_reproducible(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    for version in range(1, 6):
        lineage.save(version, weights(version), META)
    first = [lineage.sample_version(np.random.default_rng(7), 5) for _ in range(3)]
    second = [lineage.sample_version(np.random.default_rng(7), 5) for _ in range(3)]
    assert first == second


def test_sample_version_without_candidates_is_refused(tmp_path: Path) -> None:
    lineage = Lineage(tmp_path, "run")
    rng = np.random.default_rng(0)
    with pytest.raises(LineageError, match="no version <= 3; available: none"):
        lineage.sample_version(rng, 3)
    lineage.save(4, weights(4), META)
    with pytest.raises(LineageError, match="no version <= 3; available: 4"):
        lineage.sample_version(rng, 3)
    with pytest.raises(ValueError, match=">= 1"):
        lineage.sample_version(rng, 0)


def test_a_version_between_stored_snapshots_names_the_nearest_older_one(tmp_path):
    lineage = Lineage(tmp_path, "thinned")
    meta = CheckpointMeta(kind="ppo-mlp", body="ant", env_id=None, config={})
    for v in (4, 8, 12):  # the zoo keeps every 4th iteration
        lineage.save(v, {"w": torch.zeros(1)}, meta)
    assert [lineage.at_or_before(v) for v in (4, 5, 7, 8, 11, 12)] == [4, 4, 4, 8, 8, 12]
    for outside in (3, 13):
        with pytest.raises(LineageError, match=rf"no version {outside}; its versions run from 4 "
                                               rf"to 12 \(3 snapshots\)"):
            lineage.at_or_before(outside)
