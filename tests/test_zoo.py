"""Tests of trimcore.instance.zoo: exact architecture tables and the library builders."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimcore.errors import InstanceError
from trimcore.instance.blocks import ModelLibrary
from trimcore.instance.zoo import (
    ARCHITECTURES,
    BYTES_PER_PARAM,
    DEFAULT_FREEZE_DEPTH,
    LLAMA2_7B_PARAMS,
    architecture_stages,
    frozen_backbone_library,
    head_params,
    llm_lora_library,
    lora_adapter_params,
    nested_sharing_library,
    random_library,
    synthetic_library,
)

RESNET_TABLE = {
    "resnet18": [9_536, 147_968, 525_568, 2_099_712, 8_393_728, 513_000],
    "resnet34": [9_536, 221_952, 1_116_416, 6_822_400, 13_114_368, 513_000],
    "resnet50": [9_536, 215_808, 1_219_584, 7_098_368, 14_964_736, 2_049_000],
}
TOTALS = {  # default heads: 1000 classes, BERT 2 classes (109,482,240 backbone + 768*2 + 2)
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "vit_b16": 86_567_656,
    "bert_base": 109_482_240 + 1_538,
}
FROZEN_DEFAULT = {  # stem..layer3; embed + 10 blocks
    "resnet18": 2_782_784,
    "resnet34": 8_170_304,
    "resnet50": 8_543_296,
    "vit_b16": 590_592 + 768 + 151_296 + 10 * 7_087_872,
    "bert_base": 23_837_184 + 10 * 7_087_872,
}


def _check_valid(lib: ModelLibrary) -> None:
    """Cross-check a library against its own CSR arrays."""
    assert lib.n_models == len(lib.model_names) == lib.model_family.shape[0]
    assert len(lib.block_names) == lib.n_blocks
    assert len(set(lib.model_names)) == lib.n_models
    assert len(set(lib.block_names)) == lib.n_blocks
    assert np.all(lib.block_sizes > 0)
    assert np.all(np.diff(lib.indptr) >= 1)
    again = ModelLibrary.from_lists(lib.block_sizes, [lib.blocks_of(i) for i in range(lib.n_models)],
                                    families=lib.model_family)
    np.testing.assert_array_equal(again.model_sizes, lib.model_sizes)


# ------------------------------------------------------------------------------ stage tables
@pytest.mark.parametrize("name", ARCHITECTURES)
def test_stage_tables_sum_to_totals(name):
    stages = architecture_stages(name)
    assert sum(p for _, p in stages) == TOTALS[name]
    assert all(isinstance(p, int) and p > 0 for _, p in stages)
    assert len({s for s, _ in stages}) == len(stages)


@pytest.mark.parametrize("name", sorted(RESNET_TABLE))
def test_resnet_stage_table_matches_spec(name):
    stages = architecture_stages(name)
    assert [s for s, _ in stages] == ["stem", "layer1", "layer2", "layer3", "layer4", "fc"]
    assert [p for _, p in stages] == RESNET_TABLE[name]


def test_transformer_stage_tables():
    vit = dict(architecture_stages("vit_b16"))
    assert vit["embed"] == 590_592 + 768 + 151_296
    assert all(vit[f"block{b}"] == 7_087_872 for b in range(12))
    assert vit["norm"] == 1_536 and vit["head"] == 769_000
    assert len(vit) == 15
    bert = architecture_stages("bert_base")
    assert bert[0] == ("embeddings", 23_837_184)
    assert bert[-2] == ("pooler", 590_592)
    assert bert[-1] == ("classifier", 768 * 2 + 2)
    assert sum(p for _, p in bert[:-1]) == 109_482_240


@pytest.mark.parametrize(("name", "fan_in"), [("resnet18", 512), ("resnet34", 512), ("resnet50", 2048),
                                              ("vit_b16", 768), ("bert_base", 768)])
@pytest.mark.parametrize("classes", [1, 2, 10, 100, 21_843])
def test_head_for_c_classes(name, fan_in, classes):
    stages = architecture_stages(name, classes)
    assert stages[-1][1] == fan_in * classes + classes == head_params(name, classes)
    assert stages[:-1] == architecture_stages(name)[:-1]


def test_lora_and_llm_constants():
    assert lora_adapter_params(8) == 4_194_304 == 32 * 2 * 8 * (4096 + 4096)
    assert lora_adapter_params(16) == 2 * lora_adapter_params(8)
    assert lora_adapter_params(1) * 64 == lora_adapter_params(64)
    assert LLAMA2_7B_PARAMS == 6_738_415_616
    assert BYTES_PER_PARAM == {"fp32": 4, "fp16": 2}


# ------------------------------------------------------------------------------ frozen backbone
def test_frozen_backbone_default_resnets():
    lib = frozen_backbone_library()
    _check_valid(lib)
    assert lib.n_models == 30 and lib.n_blocks == 33 and lib.n_families == 3
    assert lib.family_names == ("resnet18", "resnet34", "resnet50")
    assert lib.model_names[0] == "resnet18/task00" and lib.model_names[-1] == "resnet50/task09"
    for i, name in enumerate(lib.model_names):
        fam = lib.family_names[lib.model_family[i]]
        assert name.startswith(fam + "/")
        assert lib.model_sizes[i] == TOTALS[fam] * 4
        frozen, private = lib.blocks_of(i)
        assert lib.block_names[frozen] == f"{fam}/frozen"
        assert lib.block_names[private] == f"{name}/private"
        assert lib.block_sizes[frozen] == FROZEN_DEFAULT[fam] * 4
    assert list(lib.shared_blocks) == [0, 11, 22]
    np.testing.assert_array_equal(lib.block_model_count[lib.shared_blocks], [10, 10, 10])
    assert (lib.block_model_count == 1).sum() == 30
    # the R18 frozen part of the spec: 2,782,784 params = 10.62 MB
    assert lib.block_sizes[0] == 2_782_784 * 4
    assert round(lib.block_sizes[0] / 2**20, 2) == 10.62


@pytest.mark.parametrize("name", ["vit_b16", "bert_base"])
def test_frozen_backbone_transformers(name):
    lib = frozen_backbone_library((name,), models_per_family=4, dtype="fp16")
    _check_valid(lib)
    np.testing.assert_array_equal(lib.model_sizes, np.full(4, TOTALS[name] * 2.0))
    assert lib.block_sizes[0] == FROZEN_DEFAULT[name] * 2
    assert DEFAULT_FREEZE_DEPTH[name] == 11


def test_frozen_backbone_resnet50_size_and_union():
    lib = frozen_backbone_library(("resnet50",), models_per_family=3)
    assert lib.model_sizes[0] == 25_557_032 * 4
    private = (14_964_736 + 2_049_000) * 4
    assert lib.union_size([0, 1, 2]) == 8_543_296 * 4 + 3 * private


def test_frozen_backbone_options():
    lib = frozen_backbone_library(("resnet18", "resnet50"), models_per_family=[2, 3],
                                  freeze_stages={"resnet50": 5}, num_classes=10)
    assert lib.n_models == 5
    assert lib.block_sizes[0] == FROZEN_DEFAULT["resnet18"] * 4
    r50_frozen = lib.block_names.index("resnet50/frozen")
    assert lib.block_sizes[r50_frozen] == sum(RESNET_TABLE["resnet50"][:5]) * 4
    assert lib.model_sizes[-1] == (sum(RESNET_TABLE["resnet50"][:5]) + 2048 * 10 + 10) * 4
    # freezing only the stem
    one = frozen_backbone_library(("resnet18",), 2, freeze_stages=1)
    assert one.block_sizes[0] == 9_536 * 4


def test_frozen_backbone_random_classes_reproducible():
    a = frozen_backbone_library(("resnet18",), 20, seed=5, class_range=(2, 50))
    b = frozen_backbone_library(("resnet18",), 20, seed=5, class_range=(2, 50))
    np.testing.assert_array_equal(a.block_sizes, b.block_sizes)
    backbone = 11_689_512 - 513_000
    classes = (a.model_sizes / 4 - backbone) / 513
    assert np.all(classes == np.round(classes)) and classes.min() >= 2 and classes.max() <= 50
    assert len(set(classes.tolist())) > 1


# ------------------------------------------------------------------------------ nested sharing
def test_nested_given_depths_block_counts():
    depths = [1, 2, 3, 4, 5, 4, 4]
    lib = nested_sharing_library(("resnet18",), models_per_family=7, depths=depths)
    _check_valid(lib)
    stages = architecture_stages("resnet18")
    # shared stage blocks 0..4 come first, in stage order
    assert lib.block_names[:5] == tuple(f"resnet18/{s}" for s, _ in stages[:5])
    for s in range(5):
        assert lib.block_model_count[s] == sum(d > s for d in depths)
        assert lib.block_sizes[s] == stages[s][1] * 4
    assert np.all(lib.block_model_count[5:] == 1)
    np.testing.assert_array_equal(lib.model_sizes, np.full(7, TOTALS["resnet18"] * 4.0))
    for i, d in enumerate(depths):
        assert list(lib.blocks_of(i)[:d]) == list(range(d))
        assert len(lib.blocks_of(i)) == d + 1


def test_nested_split_private_and_mapping_depths():
    depths = {"resnet34": [2, 5], "vit_b16": [1, 14, 11]}
    lib = nested_sharing_library(("resnet34", "vit_b16"), models_per_family={"resnet34": 2, "vit_b16": 3},
                                 depths=depths, split_private=True)
    _check_valid(lib)
    for i in range(lib.n_models):
        fam = lib.family_names[lib.model_family[i]]
        assert lib.model_sizes[i] == TOTALS[fam] * 4
        assert len(lib.blocks_of(i)) == len(architecture_stages(fam))  # one block per stage
    assert "vit_b16/task00/head" in lib.block_names
    assert "vit_b16/task01/head" in lib.block_names and "vit_b16/task01/norm" not in lib.block_names


@settings(max_examples=40, deadline=None)
@given(depths=st.lists(st.integers(1, 5), min_size=1, max_size=12))
def test_nested_prefix_structure_property(depths):
    lib = nested_sharing_library(("resnet50",), models_per_family=len(depths), depths=depths)
    n_shared = max(depths)
    expected = [sum(d > s for d in depths) for s in range(n_shared)]
    np.testing.assert_array_equal(lib.block_model_count[:n_shared], expected)
    # nested: the union of any two models' shared blocks is the deeper model's prefix
    m = lib.membership()[:, :n_shared]
    for i, di in enumerate(depths):
        assert m[i].sum() == di and m[i, :di].all()
    np.testing.assert_array_equal(lib.model_sizes, np.full(len(depths), TOTALS["resnet50"] * 4.0))


def test_nested_random_depths_reproducible_and_in_range():
    a = nested_sharing_library(seed=11)
    b = nested_sharing_library(seed=11)
    c = nested_sharing_library(seed=12)
    assert a.block_names == b.block_names
    np.testing.assert_array_equal(a.indices, b.indices)
    assert a.block_names != c.block_names or not np.array_equal(a.indices, c.indices)
    depths = np.diff(a.indptr) - 1  # one private block per model
    assert depths.min() >= 1 and depths.max() <= 5
    r = nested_sharing_library(("resnet18",), 30, seed=3, depth_range=(2, 3))
    d = np.diff(r.indptr) - 1
    assert set(d.tolist()) <= {2, 3}


# ------------------------------------------------------------------------------ LLM + LoRA
def test_llm_lora_default():
    lib = llm_lora_library()
    _check_valid(lib)
    assert lib.n_models == 20 and lib.n_blocks == 21 and lib.family_names == ("llama2_7b",)
    assert lib.block_sizes[0] == 6_738_415_616 * 2
    np.testing.assert_array_equal(lib.block_sizes[1:], np.full(20, 4_194_304 * 2.0))
    assert lib.block_model_count[0] == 20
    assert lib.model_sizes[0] == (6_738_415_616 + 4_194_304) * 2
    assert lib.model_names[3] == "llama2_7b/lora03" and lib.block_names[4] == "llama2_7b/lora03/adapter"


def test_llm_lora_bases_and_ranks():
    rr = llm_lora_library(6, n_bases=3)
    np.testing.assert_array_equal(rr.block_model_count[:3], [2, 2, 2])
    a = llm_lora_library(30, n_bases=4, seed=9)
    b = llm_lora_library(30, n_bases=4, seed=9)
    assert a.model_names == b.model_names
    np.testing.assert_array_equal(a.model_family, b.model_family)
    assert np.all(a.block_model_count[:4] >= 1) and a.block_model_count[:4].sum() == 30
    assert a.family_names == ("llama2_7b-0", "llama2_7b-1", "llama2_7b-2", "llama2_7b-3")
    ranked = llm_lora_library(3, rank=[4, 8, 16], dtype="fp32")
    np.testing.assert_array_equal(ranked.block_sizes[1:], np.array([2_097_152, 4_194_304, 8_388_608]) * 4.0)


# ------------------------------------------------------------------------------ synthetic
@pytest.mark.parametrize("nested", [True, False])
def test_synthetic_reproducible_and_valid(nested):
    a = synthetic_library(200, n_families=7, n_stages=5, nested=nested, seed=42)
    b = synthetic_library(200, n_families=7, n_stages=5, nested=nested, seed=42)
    c = synthetic_library(200, n_families=7, n_stages=5, nested=nested, seed=43)
    _check_valid(a)
    for x, y in ((a.block_sizes, b.block_sizes), (a.indices, b.indices), (a.indptr, b.indptr)):
        np.testing.assert_array_equal(x, y)
    assert a.model_names == b.model_names and a.block_names == b.block_names
    assert not np.array_equal(a.block_sizes[: c.n_blocks], c.block_sizes[: a.n_blocks])
    assert a.n_families == 7
    np.testing.assert_array_equal(np.bincount(a.model_family), [29, 29, 29, 29, 28, 28, 28])
    assert np.all(a.block_sizes == np.round(a.block_sizes))


def test_synthetic_special_case_one_shared_block_per_family():
    lib = synthetic_library(50, n_families=5, nested=False, seed=1, sigma=0.0, shared_fraction=0.6,
                            median_bytes=1e6)
    assert lib.n_blocks == 55
    np.testing.assert_array_equal(lib.block_model_count[:5], [10] * 5)
    np.testing.assert_array_equal(lib.block_model_count[5:], [1] * 50)
    for i in range(lib.n_models):
        shared, private = lib.blocks_of(i)
        assert shared == lib.model_family[i]
        assert lib.block_sizes[shared] / lib.model_sizes[i] == pytest.approx(0.6, abs=1e-5)


def test_synthetic_nested_prefix_counts():
    lib = synthetic_library(300, n_families=3, n_stages=6, seed=7)
    for f, name in enumerate(lib.family_names):
        ids = [j for j, b in enumerate(lib.block_names) if b.startswith(name + "/stage")]
        counts = lib.block_model_count[ids]
        assert np.all(np.diff(counts) <= 0)  # deeper stages are frozen by fewer models
        assert counts[0] == np.sum(lib.model_family == f)
    # each model: a prefix of its family's stages plus exactly one private block
    for i in range(lib.n_models):
        names = [lib.block_names[j] for j in lib.blocks_of(i)]
        assert sum(n.endswith("/private") for n in names) == 1


def test_synthetic_scale_and_small_cases():
    big = synthetic_library(1000, seed=0)
    assert big.n_models == 1000 and big.n_families == 10
    tiny = synthetic_library(3, n_families=10, n_stages=1, seed=0)
    assert tiny.n_families == 3 and tiny.n_models == 3


def test_random_library_valid_and_reproducible():
    a = random_library(100, 40, 6, seed=3, n_families=4)
    b = random_library(100, 40, 6, seed=3, n_families=4)
    _check_valid(a)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.block_sizes, b.block_sizes)
    counts = np.diff(a.indptr)
    assert counts.min() >= 1 and counts.max() <= 6
    assert a.block_sizes.min() >= 1.0 and a.block_sizes.max() <= 100.0
    assert a.n_families == 4


@settings(max_examples=40, deadline=None)
@given(n_models=st.integers(1, 30), n_blocks=st.integers(1, 30), data=st.data())
def test_random_library_property(n_models, n_blocks, data):
    kmax = data.draw(st.integers(1, n_blocks))
    seed = data.draw(st.integers(0, 2**32 - 1))
    lib = random_library(n_models, n_blocks, kmax, seed=seed)
    assert lib.n_models == n_models and lib.n_blocks == n_blocks
    assert np.all((np.diff(lib.indptr) >= 1) & (np.diff(lib.indptr) <= kmax))
    assert lib.union_size(range(n_models)) <= lib.block_sizes.sum() + 1e-9


# ------------------------------------------------------------------------------ bad arguments
@pytest.mark.parametrize(("call", "field"), [
    (lambda: architecture_stages("resnet101"), "name"),
    (lambda: architecture_stages("resnet18", 0), "num_classes"),
    (lambda: architecture_stages("resnet18", 2.5), "num_classes"),
    (lambda: frozen_backbone_library(("alexnet",)), "families[0]"),
    (lambda: frozen_backbone_library(()), "families"),
    (lambda: frozen_backbone_library(("resnet18", "resnet18")), "families"),
    (lambda: frozen_backbone_library(models_per_family=0), "models_per_family"),
    (lambda: frozen_backbone_library(models_per_family=[1, 2]), "models_per_family"),
    (lambda: frozen_backbone_library(models_per_family=True), "models_per_family"),
    (lambda: frozen_backbone_library(dtype="int8"), "dtype"),
    (lambda: frozen_backbone_library(freeze_stages=6), "freeze_stages"),
    (lambda: frozen_backbone_library(freeze_stages=0), "freeze_stages"),
    (lambda: frozen_backbone_library(freeze_stages={"vgg": 2}), "freeze_stages"),
    (lambda: frozen_backbone_library(num_classes=0), "num_classes"),
    (lambda: frozen_backbone_library(class_range=(5, 2)), "class_range"),
    (lambda: frozen_backbone_library(seed="x", class_range=(2, 5)), "seed"),
    (lambda: nested_sharing_library(depths=[1, 2]), "depths"),
    (lambda: nested_sharing_library(("resnet18",), 2, depths=[1, 6]), "depths"),
    (lambda: nested_sharing_library(("resnet18",), 2, depths=[0, 1]), "depths"),
    (lambda: nested_sharing_library(("resnet18",), 2, depths={"resnet50": [1, 1]}), "depths"),
    (lambda: nested_sharing_library(depth_range=(0, 3)), "depth_range"),
    (lambda: nested_sharing_library(depth_range=(3, 9)), "depth_range"),
    (lambda: nested_sharing_library(dtype="fp8"), "dtype"),
    (lambda: nested_sharing_library(split_private="yes"), "split_private"),
    (lambda: llm_lora_library(0), "n_adapters"),
    (lambda: llm_lora_library(2, n_bases=3), "n_adapters"),
    (lambda: llm_lora_library(n_bases=0), "n_bases"),
    (lambda: llm_lora_library(rank=0), "rank"),
    (lambda: llm_lora_library(3, rank=[8, 8]), "rank"),
    (lambda: llm_lora_library(dtype="bf8"), "dtype"),
    (lambda: synthetic_library(0), "n_models"),
    (lambda: synthetic_library(10, n_families=0), "n_families"),
    (lambda: synthetic_library(10, n_stages=0), "n_stages"),
    (lambda: synthetic_library(10, shared_fraction=1.0), "shared_fraction"),
    (lambda: synthetic_library(10, shared_fraction=0.0), "shared_fraction"),
    (lambda: synthetic_library(10, median_bytes=-1.0), "median_bytes"),
    (lambda: synthetic_library(10, sigma=float("nan")), "sigma"),
    (lambda: synthetic_library(10, nested=1), "nested"),
    (lambda: random_library(0, 5, 2), "n_models"),
    (lambda: random_library(5, 0, 1), "n_blocks"),
    (lambda: random_library(5, 3, 4), "max_blocks_per_model"),
    (lambda: random_library(5, 3, 0), "max_blocks_per_model"),
    (lambda: random_library(5, 3, 2, size_range=(0.0, 1.0)), "size_range[0]"),
    (lambda: random_library(5, 3, 2, size_range=(2.0, 1.0)), "size_range[1]"),
])
def test_bad_arguments_raise_instance_error(call, field):
    with pytest.raises(InstanceError, match=r"^" + field.replace("[", r"\[").replace("]", r"\]")):
        call()
