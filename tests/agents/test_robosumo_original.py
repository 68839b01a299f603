"""The importer of the original RoboSumo policies: the flat TensorFlow layout, the computation of
the original graph (checked against an independent NumPy transcription on synthetic vectors), the
refusals, and, where the original files are present, that they play as the originals do."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

import agents
from agents.base import PolicyAgent
from agents.checkpoint import CheckpointError, load_checkpoint
from agents.robosumo_original import (
    OriginalPolicy,
    convert,
    import_robosumo,
    layout,
    load_original,
    param_count,
    sizes,
    unflatten,
)

ORIGINAL = Path(__file__).resolve().parents[3] / "shared" / "robosumo-original"
needs_original = pytest.mark.skipif(
    not (ORIGINAL / "SHA256SUMS").is_file(),
    reason="the original RoboSumo policies are not present (../shared/robosumo-original); the "
           "project does not ship them")
SIZES = {"ant": (120, 8), "bug": (164, 12), "spider": (208, 16)}


def synthetic(arch: str, body: str, seed: int = 0) -> np.ndarray:
    """A flat vector of the original layout with plausible filters and random weights."""
    d, a = SIZES[body]
    rng = np.random.default_rng(seed)
    flat = rng.normal(0.0, 0.3, param_count(arch, d, a)).astype(np.float32)
    count = 1000.0
    mean = rng.normal(0.0, 1.0, d)
    var = rng.uniform(0.001, 4.0, d)  # some below the 1e-2 floor
    head = [5.0, 30.0, count, *(mean * count), *((var + mean**2) * count), count]
    flat[:len(head)] = np.asarray(head, np.float32)
    return flat


def write_source(root: Path, body: str, arch: str, version: int, flat: np.ndarray) -> Path:
    path = root / body / arch / f"agent-params-v{version}.npy"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, flat)
    return path


# ----------------------------------------------------------- a NumPy transcription of the original

class Reader:
    """Reads consecutive pieces of a flat vector, as ``set_from_flat`` assigns them."""

    def __init__(self, flat: np.ndarray) -> None:
        self.flat, self.pos = flat.astype(np.float64), 0

    def take(self, *shape: int) -> np.ndarray:
        n = int(np.prod(shape))
        out = self.flat[self.pos:self.pos + n].reshape(shape)
        self.pos += n
        return out

    def normalizer(self, d: int):
        self.take(3)  # the return filter
        s, ss, c = self.take(d), self.take(d), self.take(1)[0]
        mean = s / c
        std = np.sqrt(np.maximum(ss / c - mean**2, 1e-2))
        return lambda obs: np.clip((obs - mean) / std, -5, 5)


def reference_mlp(flat: np.ndarray, d: int, a: int, obs: np.ndarray) -> np.ndarray:
    r = Reader(flat)
    norm = r.normalizer(d)
    r.take(d, 64), r.take(64), r.take(64, 64), r.take(64), r.take(64, 1), r.take(1)  # value
    w1, b1, w2, b2 = r.take(d, 64), r.take(64), r.take(64, 64), r.take(64)
    w3, b3 = r.take(64, a), r.take(a)
    r.take(a)  # logstd closes the vector
    assert r.pos == flat.size
    h = np.tanh(np.tanh(norm(obs) @ w1 + b1) @ w2 + b2)
    return h @ w3 + b3


def reference_lstm(flat: np.ndarray, d: int, a: int, obs_seq: np.ndarray) -> np.ndarray:
    def sigmoid(x):
        return 1 / (1 + np.exp(-x))

    r = Reader(flat)
    norm = r.normalizer(d)
    r.take(d, 64), r.take(64), r.take(128, 256), r.take(256), r.take(64, 1), r.take(1)  # value
    fc_w, fc_b, kernel, bias = r.take(d, 64), r.take(64), r.take(128, 256), r.take(256)
    fin_w, fin_b = r.take(64, a), r.take(a)
    r.take(a)
    assert r.pos == flat.size
    cell, hid = np.zeros(64), np.zeros(64)
    means = []
    for obs in obs_seq:
        x = np.maximum(norm(obs) @ fc_w + fc_b, 0)
        i, j, f, o = np.split(np.concatenate([x, hid]) @ kernel + bias, 4)
        cell = cell * sigmoid(f + 1) + sigmoid(i) * np.tanh(j)
        hid = np.tanh(cell) * sigmoid(o)
        means.append(hid @ fin_w + fin_b)
    return np.array(means)


# ----------------------------------------------------------------------------- the layout

@pytest.mark.parametrize("body", ["ant", "bug", "spider"])
def test_vector_lengths_follow_the_published_formula(body):
    d, a = SIZES[body]
    assert sizes(body) == (d, a)
    assert param_count("mlp", d, a) == 8517 + 130 * d + 66 * a
    assert param_count("lstm", d, a) == 66245 + 130 * d + 66 * a
    names = [n for n, _ in layout("lstm", d, a)]
    assert names[:6] == ["retfilter.sum", "retfilter.sumsq", "retfilter.count",
                         "obsfilter.sum", "obsfilter.sumsq", "obsfilter.count"]
    assert names[-1] == "logstd" and len(set(names)) == len(names)


@pytest.mark.parametrize("body", ["ant", "spider"])
def test_mlp_computes_what_the_original_graph_computes(tmp_path, body):
    d, a = SIZES[body]
    flat = synthetic("mlp", body, seed=1)
    out = convert(write_source(tmp_path / "src", body, "mlp", 2, flat), tmp_path / "p.safetensors")
    policy, meta = load_original(out)
    obs = np.random.default_rng(2).normal(0, 3, (7, d)).astype(np.float32)
    got = policy.act(obs, deterministic=True).action
    np.testing.assert_allclose(got, reference_mlp(flat, d, a, obs), rtol=1e-4, atol=1e-5)
    # the sampled action is N(mean, exp(logstd)^2)
    logstd = flat[-a:].astype(np.float64)
    draws = np.stack([policy.act(obs[:1], generator=torch.Generator().manual_seed(k)).action[0]
                      for k in range(400)])
    np.testing.assert_allclose(draws.std(0), np.exp(logstd), rtol=0.2)
    assert (meta.kind, meta.body, policy.recurrent) == ("robosumo-mlp", body, False)


@pytest.mark.parametrize("body", ["bug", "spider"])
def test_lstm_computes_what_the_original_cell_computes(tmp_path, body):
    d, a = SIZES[body]
    flat = synthetic("lstm", body, seed=3)
    out = convert(write_source(tmp_path / "src", body, "lstm", 1, flat), tmp_path / "p.safetensors")
    policy, _ = load_original(out)
    obs = np.random.default_rng(4).normal(0, 3, (12, d)).astype(np.float32)
    expected = reference_lstm(flat, d, a, obs)
    state, got = None, []
    for t, o in enumerate(obs):
        step = policy.act(o[None], state, np.array([t == 0]), deterministic=True)
        state = step.state
        got.append(step.action[0])
    np.testing.assert_allclose(np.array(got), expected, rtol=1e-4, atol=1e-5)
    # the recurrence matters, and a new episode zeroes the state
    assert not np.allclose(expected[5], reference_lstm(flat, d, a, obs[5:6])[0], atol=1e-3)
    restart = policy.act(obs[5:6], state, np.array([True]), deterministic=True).action[0]
    np.testing.assert_allclose(restart, reference_lstm(flat, d, a, obs[5:6])[0], rtol=1e-4,
                               atol=1e-5)


def test_converted_checkpoints_record_their_provenance_and_load_as_agents(tmp_path):
    src = tmp_path / "assets"
    flats = {(b, arch): synthetic(arch, b, seed=i)
             for i, (b, arch) in enumerate([("ant", "mlp"), ("bug", "lstm")])}
    for (b, arch), flat in flats.items():
        write_source(src, b, arch, 3, flat)
    (src / "README.txt").write_text("not a policy")
    written = import_robosumo(src, tmp_path / "out")
    assert sorted(p.name for p in written) == ["robosumo-ant-mlp-v3.safetensors",
                                               "robosumo-bug-lstm-v3.safetensors"]
    for path in written:
        _, meta = load_checkpoint(path)
        body, arch = path.stem.split("-")[1:3]
        source = src / body / arch / "agent-params-v3.npy"
        assert meta.extra["source"] == f"{body}/{arch}/agent-params-v3.npy"
        assert meta.extra["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
        assert meta.env_id == f"RoboSumo-{body.capitalize()}-vs-{body.capitalize()}-v0"
        agent = agents.load(str(path), body=body, seed=0)
        assert isinstance(agent, PolicyAgent) and isinstance(agent.policy, OriginalPolicy)
        action = agent.act(np.zeros(SIZES[body][0], np.float32))
        assert action.shape == (SIZES[body][1],) and np.isfinite(action).all()
    with pytest.raises(ValueError, match="controls an ant, not a bug"):
        agents.load(str(written[0]), body="bug")


def test_bad_sources_are_refused_with_what_was_expected(tmp_path):
    flat = synthetic("mlp", "ant")
    with pytest.raises(ValueError, match=r"9 values, but an original mlp policy with observation "
                                         r"size 120 and action size 8 has 24645"):
        unflatten(flat[:9], "mlp", 120, 8)
    with pytest.raises(ValueError, match="1-D float32"):
        unflatten(flat.astype(np.float64), "mlp", 120, 8)
    # the body's LSTM file in the MLP folder: the size gives it away
    wrong = write_source(tmp_path, "ant", "mlp", 1, synthetic("lstm", "ant"))
    with pytest.raises(ValueError, match="has 24645"):
        convert(wrong, tmp_path / "x.safetensors")
    pickled = tmp_path / "bug" / "mlp" / "agent-params-v1.npy"
    pickled.parent.mkdir(parents=True)
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"not a plain numeric \.npy"):
        convert(pickled, tmp_path / "y.safetensors")
    stray = tmp_path / "agent-params-v1.npy"
    np.save(stray, flat)
    with pytest.raises(ValueError, match=r"expected <body>/<mlp\|lstm>/agent-params-v<k>\.npy"):
        convert(stray, tmp_path / "z.safetensors")
    with pytest.raises(ValueError, match="is not a directory"):
        import_robosumo(tmp_path / "missing", tmp_path / "out")
    with pytest.raises(ValueError, match="holds no"):
        import_robosumo(tmp_path / "ant", tmp_path / "out")


def test_a_checkpoint_whose_tensors_do_not_fit_its_body_is_refused(tmp_path):
    from agents.checkpoint import save_checkpoint

    path = convert(write_source(tmp_path, "ant", "mlp", 1, synthetic("mlp", "ant")),
                   tmp_path / "p.safetensors")
    tensors, meta = load_checkpoint(path)
    tensors["polfinal.b"] = torch.zeros(12)
    save_checkpoint(tmp_path / "bad.safetensors", tensors, meta)
    with pytest.raises(CheckpointError, match=r"shape mismatch for 'polfinal\.b'"):
        load_original(tmp_path / "bad.safetensors")
    tensors["polfinal.b"] = torch.zeros(8, dtype=torch.float64)
    save_checkpoint(tmp_path / "f64.safetensors", tensors, meta)
    with pytest.raises(CheckpointError, match="expected float32"):
        load_original(tmp_path / "f64.safetensors")


def test_the_cli_converts_and_explains_bad_input(tmp_path, capsys):
    from arena.cli import main

    write_source(tmp_path / "assets", "spider", "mlp", 1, synthetic("mlp", "spider"))
    assert main(["zoo", "import-robosumo", str(tmp_path / "assets"),
                 "--out", str(tmp_path / "out")]) == 0
    assert "1 policies converted" in capsys.readouterr().out
    assert (tmp_path / "out" / "robosumo-spider-mlp-v1.safetensors").is_file()
    with pytest.raises(SystemExit, match=r"arena zoo import-robosumo: .* holds no"):
        main(["zoo", "import-robosumo", str(tmp_path / "out"), "--out", str(tmp_path / "o")])


# ------------------------------------------------------------------ the real files, if present

@needs_original
def test_the_original_files_convert_with_their_published_hashes(tmp_path):
    sums = dict(reversed(line.split()) for line in
                (ORIGINAL / "SHA256SUMS").read_text().splitlines() if line.strip())
    written = import_robosumo(ORIGINAL, tmp_path)
    assert len(written) == 18
    for path in written:
        _, meta = load_checkpoint(path)
        listed = {k.removeprefix("./"): v for k, v in sums.items()}
        assert listed[meta.extra["source"]] == meta.extra["sha256"]


@needs_original
@pytest.mark.parametrize("arch", ["mlp", "lstm"])
def test_the_original_policies_beat_an_idle_robot(tmp_path, arch):
    from agents.evaluate import head_to_head

    written = import_robosumo(ORIGINAL, tmp_path)
    path = next(p for p in written if p.name == f"robosumo-bug-{arch}-v1.safetensors")
    policy, _ = load_original(path)
    result = head_to_head(policy, "idle", ("bug", "bug"), 10, seed=0)
    assert result.wins >= 8, result  # the originals win 29-30 of 30 (docs/results.md)
