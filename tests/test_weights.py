"""Model libraries from weight files: shared blocks found by content, on generated checkpoints."""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trimcore as tc
from trimcore.cli import main
from trimcore.instance.weights import library_from_weights

safetensors_numpy = pytest.importorskip("safetensors.numpy")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


def _structure(lib: tc.ModelLibrary) -> Counter:
    """What a library says independent of block ids: (models holding the block, its size) counts."""
    holders = [frozenset() for _ in range(lib.n_blocks)]
    for i in range(lib.n_models):
        for b in lib.blocks_of(i).tolist():
            holders[b] = holders[b] | {i}
    return Counter(zip(holders, lib.block_sizes.tolist()))


def _write(path: Path, tensors: dict[str, np.ndarray], fmt: str, n_shards: int = 1) -> Path:
    """One model's checkpoint as a .safetensors file, a sharded directory or an .npz archive."""
    if fmt == "npz":
        np.savez(path.with_suffix(".npz"), **tensors)
        return path.with_suffix(".npz")
    if fmt == "sharded":
        path.mkdir()
        names = sorted(tensors)
        weight_map = {}
        for s in range(n_shards):
            shard = f"model-{s + 1:05d}-of-{n_shards:05d}.safetensors"
            part = {n: tensors[n] for n in names[s::n_shards]}
            if part:
                safetensors_numpy.save_file(part, str(path / shard))
                weight_map.update({n: shard for n in part})
        (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
        return path
    safetensors_numpy.save_file(tensors, str(path.with_suffix(".safetensors")))
    return path.with_suffix(".safetensors")


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n_models=st.integers(1, 5), n_pool=st.integers(1, 8),
       fmt=st.sampled_from(["safetensors", "sharded", "npz"]), rename=st.booleans(), n_shards=st.integers(1, 3))
def test_tensor_blocks_are_the_distinct_tensors(tmp_path_factory, seed, n_models, n_pool, fmt, rename, n_shards):
    rng = np.random.default_rng(seed)
    dtypes = [np.float32, np.float16, np.int8, np.float64]
    pool = [rng.standard_normal(int(rng.integers(1, 40))).astype(dtypes[int(rng.integers(4))]) for _ in range(n_pool)]
    chosen = [sorted(set(rng.choice(n_pool, int(rng.integers(1, n_pool + 1)), replace=True).tolist()))
              for _ in range(n_models)]
    root = tmp_path_factory.mktemp("ckpt")
    paths = []
    for i, picks in enumerate(chosen):
        # a renamed tensor keeps its content: identity must not depend on the name
        tensors = {(f"m{i}.t{t}" if rename else f"pool.{t}"): pool[t] for t in picks}
        paths.append(_write(root / f"model{i}", tensors, fmt, n_shards))
    lib = library_from_weights(paths, progress=False)
    expected = Counter()
    for t in sorted({t for picks in chosen for t in picks}):
        expected[(frozenset(i for i, picks in enumerate(chosen) if t in picks), float(pool[t].nbytes))] += 1
    assert _structure(lib) == expected
    used = sorted({t for picks in chosen for t in picks})
    assert lib.union_size(np.arange(lib.n_models)) == sum(pool[t].nbytes for t in used)
    assert lib.model_names == tuple(p.name.split(".")[0] for p in paths)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), n_models=st.integers(1, 4), n_layers=st.integers(1, 6))
def test_layer_blocks_group_tensors_by_layer(tmp_path_factory, seed, n_models, n_layers):
    rng = np.random.default_rng(seed)
    layers = [{"q": rng.standard_normal(8).astype(np.float32), "k": rng.standard_normal(4).astype(np.float32)}
              for _ in range(n_layers)]
    embedding = rng.standard_normal(16).astype(np.float32)
    chosen = [rng.choice(n_layers, int(rng.integers(1, n_layers + 1)), replace=False).tolist()
              for _ in range(n_models)]
    root = tmp_path_factory.mktemp("layers")
    paths = []
    for i, picks in enumerate(chosen):
        tensors = {"model.embed_tokens.weight": embedding}
        for position, layer in enumerate(picks):  # the same layer at another depth is still the same block
            tensors.update({f"model.layers.{position}.self_attn.{k}": v for k, v in layers[layer].items()})
        paths.append(_write(root / f"m{i}", tensors, "safetensors"))
    lib = library_from_weights(paths, granularity="layer", progress=False)
    expected = Counter({(frozenset(range(n_models)), float(embedding.nbytes)): 1})
    for layer in sorted({t for picks in chosen for t in picks}):
        holders = frozenset(i for i, picks in enumerate(chosen) if layer in picks)
        expected[(holders, float(sum(v.nbytes for v in layers[layer].values())))] += 1
    assert _structure(lib) == expected
    assert all(name.startswith(("model.layers.", "model.embed_tokens")) for name in lib.block_names)


def test_a_zoo_library_written_as_weights_scans_back(tmp_path):
    from trimcore.instance.zoo import synthetic_library

    zoo = synthetic_library(8, n_families=3, nested=True, median_bytes=2e3, seed=4)
    rng = np.random.default_rng(0)
    blocks = [rng.integers(0, 256, max(1, round(s)), dtype=np.uint8) for s in zoo.block_sizes.tolist()]
    paths = []
    for i in range(zoo.n_models):
        tensors = {f"block{j}": blocks[j] for j in zoo.blocks_of(i).tolist()}
        paths.append(_write(tmp_path / f"model{i}", tensors, "safetensors"))
    lib = tc.ModelLibrary.from_weights(paths, names=zoo.model_names, progress=False)
    rounded = tc.ModelLibrary.from_lists([float(b.size) for b in blocks],
                                         [zoo.blocks_of(i).tolist() for i in range(zoo.n_models)])
    assert _structure(lib) == _structure(rounded)
    assert lib.model_names == zoo.model_names


def test_same_name_but_changed_content_is_not_shared(tmp_path):
    a = _write(tmp_path / "a", {"w": np.ones(4, np.float32)}, "safetensors")
    b = _write(tmp_path / "b", {"w": np.full(4, 2.0, np.float32)}, "safetensors")
    c = _write(tmp_path / "c", {"w": np.ones(4, np.float64)}, "safetensors")  # same values, other dtype
    d = _write(tmp_path / "d", {"w": np.ones((2, 2), np.float32)}, "safetensors")  # same bytes, other shape
    lib = library_from_weights([a, b, c, d], progress=False)
    assert lib.n_blocks == 4 and lib.shared_blocks.size == 0 and lib.n_families == 4


def test_safetensors_and_npz_copies_of_a_tensor_are_one_block(tmp_path):
    w = np.arange(12, dtype=np.float32)
    a = _write(tmp_path / "a", {"w": w}, "safetensors")
    b = _write(tmp_path / "b", {"other_name": w}, "npz")
    lib = library_from_weights([a, b], progress=False)
    assert lib.n_blocks == 1 and lib.block_names == ("w (+1 aliases)",)


def test_peft_adapter_shares_its_base(tmp_path):
    base = _write(tmp_path / "base", {"model.layers.0.q": np.ones(64, np.float32),
                                      "model.layers.1.q": np.zeros(64, np.float32)}, "safetensors")
    other = _write(tmp_path / "other", {"x": np.full(8, 3.0, np.float32)}, "safetensors")
    adapter = tmp_path / "lora-a"
    adapter.mkdir()
    safetensors_numpy.save_file({"base_model.model.model.layers.0.q.lora_A.weight": np.ones(4, np.float32)},
                                str(adapter / "adapter_model.safetensors"))
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "base", "r": 1}))
    lib = library_from_weights([base, other, adapter], progress=False)
    assert set(lib.blocks_of(0).tolist()) < set(lib.blocks_of(2).tolist())
    assert lib.model_sizes[2] == lib.model_sizes[0] + 16
    assert lib.model_family[2] == lib.model_family[0] != lib.model_family[1]
    layered = library_from_weights([base, adapter], granularity="layer", progress=False)
    assert layered.n_blocks == 3
    with pytest.raises(tc.InstanceError, match="lora-a.*not among the listed models"):
        library_from_weights([other, adapter], progress=False)


def _corrupt(tmp_path: Path, kind: str) -> Path:
    good = _write(tmp_path / "good", {"w": np.ones(16, np.float32)}, "safetensors")
    data = good.read_bytes()
    bad = tmp_path / f"{kind}.safetensors"
    if kind == "truncated_header":
        bad.write_bytes(data[:20])
    elif kind == "huge_header":
        bad.write_bytes(struct.pack("<Q", 2**40) + data[8:])
    elif kind == "bad_json":
        (n,) = struct.unpack("<Q", data[:8])
        bad.write_bytes(data[:8] + b"{" * n + data[8 + n:])
    elif kind == "truncated_data":
        bad.write_bytes(data[:-8])
    elif kind == "tiny":
        bad.write_bytes(b"abc")
    return bad


@pytest.mark.parametrize("kind, match", [
    ("truncated_header", "corrupt or truncated safetensors header"),
    ("huge_header", "corrupt or truncated safetensors header"),
    ("bad_json", "corrupt safetensors header"),
    ("truncated_data", "outside the .*data buffer"),
    ("tiny", "not a safetensors file"),
])
def test_corrupt_safetensors_name_the_file(tmp_path, kind, match):
    bad = _corrupt(tmp_path, kind)
    with pytest.raises(tc.InstanceError, match=match) as err:
        library_from_weights([bad], progress=False)
    assert str(bad) in str(err.value)


def test_bad_inputs_name_the_file(tmp_path):
    sharded = _write(tmp_path / "sharded", {"a": np.ones(3, np.float32), "b": np.ones(2, np.float32)}, "sharded", 2)
    next(sharded.glob("model-00002*")).unlink()
    with pytest.raises(tc.InstanceError, match="missing shard"):
        library_from_weights([sharded], progress=False)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(tc.InstanceError, match="notes.txt: not a checkpoint"):
        library_from_weights([text], progress=False)
    with pytest.raises(tc.InstanceError, match="no such file"):
        library_from_weights([tmp_path / "absent.safetensors"], progress=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(tc.InstanceError, match="not a checkpoint directory"):
        library_from_weights([empty], progress=False)
    pickled = tmp_path / "objects.npz"
    np.savez(pickled, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(tc.InstanceError, match="object array"):
        library_from_weights([pickled], progress=False)
    a = _write(tmp_path / "a", {"w": np.ones(2, np.float32)}, "safetensors")
    with pytest.raises(tc.InstanceError, match="names"):
        library_from_weights([a, a], progress=False)
    with pytest.raises(tc.InstanceError, match="granularity"):
        library_from_weights([a], granularity="block")
    zero = _write(tmp_path / "zero", {"w": np.ones(0, np.float32)}, "safetensors")
    with pytest.raises(tc.InstanceError, match="no non-empty tensor"):
        library_from_weights([zero], progress=False)


def test_cli_scan_writes_the_library_and_prints_the_table(tmp_path, capsys):
    w = np.ones(256, np.float32)
    a = _write(tmp_path / "a", {"shared": w, "own": np.zeros(8, np.float32)}, "safetensors")
    b = _write(tmp_path / "b", {"shared": w, "own": np.full(8, 2.0, np.float32)}, "safetensors")
    out = tmp_path / "lib.npz"
    assert main(["library", "scan", str(a), str(b), "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "3 distinct tensor blocks, 1 of them shared" in text and "union" in text
    lib = tc.ModelLibrary.load(out)
    assert lib.n_models == 2 and lib.union_size([0, 1]) == 256 * 4 + 2 * 32
    # a failing scan writes nothing
    assert main(["library", "scan", str(a), str(tmp_path / "nope"), "--out", str(tmp_path / "x.npz")]) == 2
    assert not (tmp_path / "x.npz").exists()


def test_builders_take_a_scanned_library(tmp_path):
    from trimcore.experiments import scenarios

    rng = np.random.default_rng(1)
    backbone = rng.standard_normal(50_000).astype(np.float32)
    paths = [_write(tmp_path / f"m{i}", {"backbone": backbone, "head": rng.standard_normal(5_000).astype(np.float32)},
                    "safetensors") for i in range(4)]
    lib = tc.ModelLibrary.from_weights(paths, progress=False)
    lib.save(tmp_path / "lib.npz")
    spec = scenarios.scenario()
    spec["library"] = {"kind": "file", "path": str(tmp_path / "lib.npz")}
    problem = scenarios.build_placement(scenarios.check_scenario(spec))
    assert problem.n_models == 4 and tc.trimcaching_gen(problem).feasible
    spec["library"] = {"kind": "weights", "paths": [str(p) for p in paths], "granularity": "layer"}
    assert scenarios.build_library(scenarios.check_scenario(spec)["library"]).n_blocks == 5
    loading = tc.LoadingProblem.from_random_cell(lib, 10, seed=0)
    assert tc.partialloading_greedy(loading).feasible
    from trimcore.online.builder import make_caching_instance
    from trimcore.pulling.instances import realistic_instance

    cp = make_caching_instance(2, library=lib, n_slots=20, memory_gb=1.0, seed=0)
    assert cp.n_models == 4 and tc.simulate_caching(cp, policy="lru").feasible
    pp = realistic_instance(8, 20, seed=0, library=lib)
    assert pp.n_models == 4 and np.allclose(pp.shareable_size, backbone.nbytes * 1e-9)
    assert tc.pulling_rounding(pp, seed=0).feasible
