"""Checkpoints built to hurt: huge claims in small files, headers that lie, bloated or odd
metadata, links to special files, retyped weights, paths out of the zoo, and a fuzz of dropped
tensors and retyped config keys. Each is refused with a CheckpointError or ValueError naming the
problem, at a bounded cost in memory; none gives another exception."""

from __future__ import annotations

import json
import os
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

import agents
from agents.checkpoint import (
    FORMAT_NAME,
    MAX_CHECKPOINT_BYTES,
    CheckpointError,
    CheckpointMeta,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from agents.policy import Policy, load_policy, save_policy

REFUSED = (CheckpointError, ValueError)


def ant_policy(tmp_path: Path, **meta_changes) -> Path:
    torch.manual_seed(0)
    policy = Policy(120, 8)
    meta = CheckpointMeta(kind="ppo-mlp", body="ant", env_id="RoboSumo-Ant-vs-Ant-v0",
                          config={})
    path = tmp_path / "ant.safetensors"
    save_policy(path, policy, meta)
    if meta_changes:
        tensors, meta = load_checkpoint(path)
        fields = json.loads(meta.to_json())
        fields.update(meta_changes)
        save_checkpoint(path, tensors, CheckpointMeta(**fields))
    return path


def raw_file(path: Path, header: dict, body: bytes = b"") -> Path:
    data = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(data)) + data + body)
    return path


def our_metadata(**meta) -> dict:
    fields = {"kind": "ppo-mlp", "body": "ant", "env_id": None, "config": {}, "lineage": None,
              "version": None, "extra": {}, "format_version": 1, **meta}
    return {"format": FORMAT_NAME, "format_version": "1", "meta": json.dumps(fields)}


def test_a_small_file_claiming_a_huge_network_is_refused_before_it_is_built(tmp_path):
    path = ant_policy(tmp_path)
    tensors, meta = load_checkpoint(path)
    for obs_dim, hidden in ((100_000, 2000), (10**12, 10**6)):
        config = {**meta.config, "obs_dim": obs_dim, "policy": {**meta.config["policy"],
                                                               "hidden": hidden}}
        save_checkpoint(path, tensors, CheckpointMeta(**{**json.loads(meta.to_json()),
                                                         "config": config}))
        assert path.stat().st_size < 200_000
        with pytest.raises(CheckpointError, match=r"does not fit the agent: .*shape mismatch"):
            load_policy(path)
        with pytest.raises(CheckpointError, match="does not fit the agent"):
            agents.load(str(path))


def test_a_header_length_that_lies_costs_no_memory(tmp_path):
    sparse = tmp_path / "sparse.safetensors"
    with open(sparse, "wb") as handle:
        handle.write(struct.pack("<Q", 10**12) + b"{")
        handle.truncate(200 * 1024**2)  # 200 MB on paper, no blocks on disk
    huge = tmp_path / "huge.safetensors"
    with open(huge, "wb") as handle:
        handle.write(struct.pack("<Q", 10**12) + b"{")
        handle.truncate(8 * 1024**3)
    big = tmp_path / "big.safetensors"
    raw_file(big, {"__metadata__": our_metadata()})
    os.truncate(big, MAX_CHECKPOINT_BYTES + 1)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="header length field says 1000000000000"):
            load_checkpoint(sparse)
        with pytest.raises(CheckpointError, match="is 8,589,934,592 bytes; checkpoints are"):
            load_checkpoint(huge)
        with pytest.raises(CheckpointError, match=r"checkpoints are at most 268,435,456 bytes"):
            load_checkpoint(big)
        with pytest.raises(CheckpointError, match="at most"):
            read_meta(big)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024**2, f"refusing cost {peak / 1e6:.0f} MB"


@pytest.mark.parametrize(("header", "message"), [
    ({"__metadata__": {"format": FORMAT_NAME, "format_version": 1, "meta": "{}"}},
     "metadata maps strings to strings"),
    ({"__metadata__": our_metadata(), "w": {"dtype": "F32", "shape": [1],
                                            "data_offsets": [-4, 0]}},
     "malformed header entry for tensor 'w'"),
    ({"__metadata__": our_metadata(), "w": {"dtype": "F32", "shape": [1],
                                            "data_offsets": [8, 4]}},
     "malformed header entry for tensor 'w'"),
])
def test_malformed_headers_get_one_line_errors(tmp_path, header, message):
    path = raw_file(tmp_path / "x.safetensors", header, b"\0" * 8)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_deeply_nested_json_is_refused_not_a_recursion_error(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    path = raw_file(tmp_path / "meta.safetensors",
                    {"__metadata__": {**our_metadata(), "meta": deep}})
    with pytest.raises(CheckpointError, match="nested too deeply"):
        load_checkpoint(path)
    data = ('{"a":' * 50_000 + "1" + "}" * 50_000).encode()
    header = tmp_path / "header.safetensors"
    header.write_bytes(struct.pack("<Q", len(data)) + data)
    with pytest.raises(CheckpointError, match="nests too deeply"):
        load_checkpoint(header)


def test_bloated_metadata_is_refused_before_it_is_held(tmp_path):
    path = ant_policy(tmp_path)
    tensors, meta = load_checkpoint(path)
    bloated = CheckpointMeta(**{**json.loads(meta.to_json()), "extra": {"x": "y" * 6_000_000}})
    save_checkpoint(path, tensors, bloated)
    with pytest.raises(CheckpointError, match="at most 4,194,304 are allowed"):
        load_checkpoint(path)


def test_links_to_special_files_and_folders_are_refused(tmp_path):
    for target in ("/dev/zero", "/dev/null", str(tmp_path)):
        link = tmp_path / f"link-{Path(target).name}.safetensors"
        link.symlink_to(target)
        with pytest.raises(CheckpointError, match="not a regular file"):
            load_checkpoint(link)
    fifo = tmp_path / "fifo.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_checkpoint(fifo)


@pytest.mark.parametrize("dtype", [torch.int8, torch.bool, torch.float64])
def test_weights_of_another_dtype_are_refused_not_cast(tmp_path, dtype):
    path = ant_policy(tmp_path)
    tensors, meta = load_checkpoint(path)
    tensors["net.pi.0.weight"] = tensors["net.pi.0.weight"].to(dtype)
    save_checkpoint(path, tensors, meta)
    with pytest.raises(CheckpointError, match=f"dtype mismatch for 'net.pi.0.weight': file has "
                                              f"{dtype}, expected torch.float32"):
        load_policy(path)


def test_a_checkpoint_whose_body_does_not_fit_its_weights_is_refused_at_load(tmp_path):
    path = ant_policy(tmp_path, body="bug")
    with pytest.raises(CheckpointError, match=r"controls a bug \(12 actuators\), but its agent "
                                              r"acts with 8 values"):
        agents.load(str(path))
    with pytest.raises(ValueError, match="unknown body 'octopus'"):
        agents.load(str(ant_policy(tmp_path, body="octopus")))


def test_zoo_references_cannot_leave_the_zoo(tmp_path):
    outside = tmp_path / "x.safetensors"
    ant_policy(tmp_path).rename(outside)
    relative = os.path.relpath(tmp_path, agents.ZOO_DIR)  # ../../..<tmp>: it exists
    assert (agents.ZOO_DIR / relative / "x.safetensors").is_file()
    for ref in (f"zoo:{relative}/x", f"zoo:{tmp_path}/x", "zoo:..", "zoo:.hidden",
                "zoo:selfplay-ant/../selfplay-bug", "zoo:selfplay-ant/v0004"):
        with pytest.raises(ValueError, match=r"no '/', '\.\.' or absolute paths"):
            agents.load(ref)
    assert agents.load("zoo:selfplay-ant@4").body == "ant"  # the zoo itself still loads


# ------------------------------------------------------------------------------- the fuzz

def _zoo_files() -> list[Path]:
    files = sorted(agents.ZOO_DIR.glob("*.safetensors"))
    files.append(agents.resolve("zoo:selfplay-bug"))
    return files


def _retyped(config: dict, prefix: tuple = ()):
    """Paths into a nested config with each value replaced by an ill-typed one."""
    for key, value in config.items():
        here = (*prefix, key)
        if isinstance(value, dict) and len(prefix) < 2:
            yield from _retyped(value, here)
        for bad in ("x", None, -1, [1, 2], {"a": 1}):
            if bad != value:
                yield here, bad


def _set(config: dict, path: tuple, value) -> dict:
    out = json.loads(json.dumps(config))
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.mark.parametrize("source", _zoo_files(), ids=lambda p: p.stem)
def test_dropped_tensors_and_retyped_config_keys_never_give_a_traceback(tmp_path, source):
    tensors, meta = load_checkpoint(source)
    target = tmp_path / "fuzz.safetensors"
    body = meta.body or "bug"
    for name in tensors:
        save_checkpoint(target, {k: v for k, v in tensors.items() if k != name}, meta)
        with pytest.raises(REFUSED):
            agents.load(str(target), body=body)
    rng = np.random.default_rng(0)
    cases = list(_retyped(meta.config))
    picked = [cases[i] for i in rng.choice(len(cases), size=min(60, len(cases)),
                                           replace=False)]
    fields = json.loads(meta.to_json())
    for path, bad in picked:
        save_checkpoint(target, tensors,
                        CheckpointMeta(**{**fields, "config": _set(meta.config, path, bad)}))
        try:
            agent = agents.load(str(target), body=body)
        except REFUSED:
            continue
        assert agent.action_dim > 0  # a key the loader does not read may take any value


def test_a_metadata_read_reads_the_header_only(tmp_path):
    path = ant_policy(tmp_path)
    data = bytearray(path.read_bytes())
    (header_len,) = struct.unpack("<Q", data[:8])
    start = 8 + header_len
    data[start:] = b"\xff" * (len(data) - start)  # every tensor byte spoiled, header intact
    path.write_bytes(bytes(data))
    meta = read_meta(path)
    assert (meta.kind, meta.body) == ("ppo-mlp", "ant")
    with pytest.raises(CheckpointError, match=r"is corrupt: tensor .* holds NaN or infinite"):
        load_policy(path)  # the tensors themselves are what is wrong
