"""Checkpoint files: round trip, atomic writes, refusal of malformed, foreign or unsafe files."""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import pickle
from pathlib import Path

import pytest
import safetensors.torch
import torch

from agents.checkpoint import (
    FORMAT_NAME,
    FORMAT_VERSION,
    CheckpointError,
    CheckpointMeta,
    check_shapes,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)


def make_meta(**overrides: object) -> CheckpointMeta:
    fields: dict = {
        "kind": "ppo-mlp",
        "body": "ant",
        "env_id": "RoboSumo-Ant-vs-Ant-v0",
        "config": {"hidden": [64, 64], "lr": 3e-4, "gamma": 0.995, "name": "base"},
        "lineage": None,
        "version": None,
        "extra": {"step": 1234, "command": "arena train"},
    }
    fields.update(overrides)
    return CheckpointMeta(**fields)


def make_tensors() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "policy.weight": torch.randn(4, 3, generator=gen),
        "value.weight": torch.randn(5, dtype=torch.float64, generator=gen),
        "obs_norm.mean": torch.randn(3, generator=gen),
        "obs_norm.var": torch.rand(3, generator=gen),
        "obs_norm.count": torch.tensor([17], dtype=torch.int64),
    }


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return save_checkpoint(tmp_path / "agent.safetensors", make_tensors(), make_meta())


def test_round_trip_is_bit_identical(saved: Path) -> None:
    tensors, meta = load_checkpoint(saved)
    expected = make_tensors()
    assert set(tensors) == set(expected)
    for name, value in expected.items():
        assert tensors[name].dtype == value.dtype
        assert torch.equal(tensors[name], value)
    assert meta == make_meta()
    assert meta.format_version == FORMAT_VERSION


def test_save_copies_views_to_contiguous_cpu_tensors(tmp_path: Path) -> None:
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    tensors = {"t": base.T, "row": base[1], "grad": torch.ones(2, requires_grad=True)}
    path = save_checkpoint(tmp_path / "views.safetensors", tensors, make_meta())
    loaded, _ = load_checkpoint(path)
    assert torch.equal(loaded["t"], base.T)
    assert torch.equal(loaded["row"], base[1])
    assert not loaded["grad"].requires_grad


def test_atomic_write_leaves_only_the_checkpoint(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "a.safetensors", make_tensors(), make_meta())
    save_checkpoint(tmp_path / "a.safetensors", make_tensors(), make_meta(kind="maml"))
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]
    assert load_checkpoint(tmp_path / "a.safetensors")[1].kind == "maml"


def test_failed_write_keeps_previous_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_checkpoint(tmp_path / "a.safetensors", make_tensors(), make_meta())
    before = path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("agents.checkpoint.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, make_tensors(), make_meta(kind="rl2"))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.safetensors"]


def test_save_refuses_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.safetensors"):
        save_checkpoint(tmp_path / "agent.pt", make_tensors(), make_meta())


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_save_refuses_non_finite_and_names_tensor(tmp_path: Path, bad: float) -> None:
    tensors = make_tensors()
    tensors["value.weight"][2] = bad
    path = tmp_path / "diverged.safetensors"
    with pytest.raises(ValueError, match=r"'value\.weight'.*non-finite"):
        save_checkpoint(path, tensors, make_meta())
    assert not path.exists()


def test_save_refuses_other_format_version_and_non_json_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="writes checkpoint format version 1"):
        save_checkpoint(tmp_path / "a.safetensors", make_tensors(), make_meta(format_version=2))
    with pytest.raises(ValueError, match="JSON"):
        save_checkpoint(
            tmp_path / "a.safetensors", make_tensors(), make_meta(config={"f": object()})
        )


def test_meta_validates_fields() -> None:
    with pytest.raises(ValueError, match="kind"):
        make_meta(kind="")
    with pytest.raises(ValueError, match="version"):
        make_meta(version=0)
    with pytest.raises(ValueError, match="config"):
        make_meta(config=[1, 2])


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"nope\.safetensors.*does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")


def _cut_lengths(data: bytes) -> dict[str, int]:
    header_len = int.from_bytes(data[:8], "little")
    return {
        "empty": 0,
        "inside length field": 5,
        "inside header": 8 + header_len // 2,
        "inside data": 8 + header_len + 3,
        "last byte missing": len(data) - 1,
    }


@pytest.mark.parametrize(
    "where", ["empty", "inside length field", "inside header", "inside data", "last byte missing"]
)
def test_truncated_file_is_refused(saved: Path, tmp_path: Path, where: str) -> None:
    data = saved.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: _cut_lengths(data)[where]])
    expected = "empty" if where == "empty" else "truncated"
    with pytest.raises(CheckpointError, match=rf"cut\.safetensors.*{expected}"):
        load_checkpoint(cut)


class _CreatesFile:
    """Unpickling this calls open(path, "w"): proof of code execution if the file appears."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple:
        return (builtins.open, (self.path, "w"))


def test_pickle_payload_is_live(tmp_path: Path) -> None:
    # Control: the payload really does run code when unpickled, so the tests below mean something.
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_CreatesFile(marker))).close()
    assert marker.exists()


def test_raw_pickle_renamed_is_refused_without_executing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    fake = tmp_path / "agent.safetensors"
    fake.write_bytes(pickle.dumps(_CreatesFile(marker)))
    with pytest.raises(CheckpointError, match=r"agent\.safetensors.*pickle"):
        load_checkpoint(fake)
    assert not marker.exists()


def test_torch_save_renamed_is_refused_without_executing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for legacy in (False, True):
        fake = tmp_path / f"torch-{legacy}.safetensors"
        torch.save(
            {"w": torch.ones(2), "evil": _CreatesFile(marker)},
            fake,
            _use_new_zipfile_serialization=not legacy,
        )
        with pytest.raises(CheckpointError, match=r"torch-.*pickle/torch\.save"):
            load_checkpoint(fake)
    assert not marker.exists()


def test_garbage_file_is_refused(tmp_path: Path) -> None:
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello, this is not a checkpoint at all")
    with pytest.raises(CheckpointError, match=r"junk\.safetensors.*not a safetensors file"):
        load_checkpoint(junk)
    header = b"{not json"
    junk.write_bytes(len(header).to_bytes(8, "little") + header)
    with pytest.raises(CheckpointError, match="header is not JSON"):
        load_checkpoint(junk)


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}])
def test_plain_safetensors_without_our_metadata_is_refused(
    tmp_path: Path, metadata: dict[str, str] | None
) -> None:
    path = tmp_path / "plain.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2)}, path, metadata=metadata)
    with pytest.raises(
        CheckpointError, match=rf"plain\.safetensors.*not an agent checkpoint.*{FORMAT_NAME}"
    ):
        load_checkpoint(path)


def _write_with_header(path: Path, format_version: str, meta_json: str) -> None:
    metadata = {"format": FORMAT_NAME, "format_version": format_version, "meta": meta_json}
    safetensors.torch.save_file({"w": torch.ones(2)}, path, metadata=metadata)


def test_unknown_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.safetensors"
    fields = dataclasses.asdict(make_meta()) | {"format_version": 99}
    _write_with_header(path, "99", json.dumps(fields))
    with pytest.raises(
        CheckpointError, match=r"future\.safetensors.*format version 99.*reads versions 1"
    ):
        load_checkpoint(path)
    _write_with_header(path, "one", json.dumps(fields))
    with pytest.raises(CheckpointError, match="invalid format_version 'one'"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("meta_json", "message"),
    [
        ("{broken", "malformed 'meta' JSON"),
        ('{"kind": "maml"}', "malformed 'meta': fields"),
        ("[1, 2]", "malformed 'meta': fields"),
    ],
)
def test_malformed_meta_is_refused(tmp_path: Path, meta_json: str, message: str) -> None:
    path = tmp_path / "bad-meta.safetensors"
    _write_with_header(path, "1", meta_json)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_invalid_meta_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad-values.safetensors"
    fields = dataclasses.asdict(make_meta()) | {"kind": ""}
    _write_with_header(path, "1", json.dumps(fields))
    with pytest.raises(CheckpointError, match=r"bad-values\.safetensors.*kind"):
        load_checkpoint(path)


def test_wrong_kind_is_refused(saved: Path) -> None:
    with pytest.raises(
        CheckpointError, match=r"agent\.safetensors.*kind 'ppo-mlp', expected 'maml'"
    ):
        load_checkpoint(saved, expected_kind="maml")
    assert load_checkpoint(saved, expected_kind="ppo-mlp")[1].kind == "ppo-mlp"


def test_check_shapes_lists_every_problem() -> None:
    tensors = {"a": torch.zeros(3, 4), "b": torch.zeros(2), "extra": torch.zeros(1)}
    expected = {"a": (4, 4), "b": (2,), "missing": (5,)}
    with pytest.raises(CheckpointError) as info:
        check_shapes(tensors, expected, "bug.safetensors")
    message = str(info.value)
    assert "bug.safetensors" in message
    assert "missing tensors: missing" in message
    assert "unexpected tensors: extra" in message
    assert "'a': file has (3, 4), expected (4, 4)" in message
    assert "'b'" not in message
    check_shapes({"a": torch.zeros(4, 4)}, {"a": (4, 4)}, "ok.safetensors")


def test_file_sha256_matches_hashlib(saved: Path) -> None:
    assert file_sha256(saved) == hashlib.sha256(saved.read_bytes()).hexdigest()


@pytest.mark.parametrize("first_bytes", [b"\x80", b"PK"])
def test_valid_files_whose_length_field_looks_like_a_pickle_or_zip_load(tmp_path, first_bytes):
    """The header length is little-endian: a length of 128 (mod 256) opens the file with 0x80
    like a pickle, 0x4b50 (mod 65536) with 'PK' like a zip. Such valid checkpoints must load."""
    import struct

    def write(pad: int) -> Path:
        meta = CheckpointMeta(kind="ppo-mlp", body=None, env_id=None, config={},
                              extra={"pad": "x" * pad})
        return save_checkpoint(tmp_path / "c.safetensors", {"w": torch.zeros(2)}, meta)

    base = struct.unpack("<Q", write(0).read_bytes()[:8])[0]
    want = int.from_bytes(first_bytes, "little")
    modulus = 256 if len(first_bytes) == 1 else 65536
    path = write((want - base) % modulus)
    assert path.read_bytes().startswith(first_bytes)
    tensors, meta = load_checkpoint(path)
    assert meta.kind == "ppo-mlp" and torch.equal(tensors["w"], torch.zeros(2))
