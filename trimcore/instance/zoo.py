"""Model libraries built from real architectures (exact parameter counts) and synthetic ones.

Every builder returns a validated :class:`~trimcore.instance.blocks.ModelLibrary` whose block
sizes are in **bytes** (``parameters * BYTES_PER_PARAM[dtype]``, as floats).

Real architectures are described by *stages*, listed bottom to top with the classification /
task head last (:func:`architecture_stages`). Fine-tuning a model with freeze depth ``f`` keeps
stages ``0 .. f-1`` frozen (identical to the pretrained backbone, hence shareable) and retrains
stages ``f .. L-1`` (the last of which is the head).

* :func:`frozen_backbone_library` -- the *special case* of the TrimCaching paper: per family
  one shared block (the whole frozen bottom part) and per model one private block.
* :func:`nested_sharing_library` -- the *general case*: every model has its own freeze depth,
  each frozen stage is a block shared by all models of the family that freeze it, giving
  nested (prefix) sharing.
* :func:`llm_lora_library` -- base LLMs as shared blocks plus one LoRA adapter per model.
* :func:`synthetic_library` -- seeded random libraries with controllable sharing, for tests and
  scale.
* :func:`random_library` -- arbitrary (non-nested) random sharing patterns, for property tests.

Parameter counts are those of the public torchvision / Hugging Face implementations
(``sum(p.numel() for p in model.parameters())``; BatchNorm running statistics are buffers and
are not counted).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trimcore._validate import float_array, integer, make_rng, real
from trimcore.errors import invalid
from trimcore.instance.blocks import ModelLibrary

__all__ = [
    "INFER_TIME_S",
    "INPUT_BITS",
    "per_model_values",
    "ARCHITECTURES",
    "BYTES_PER_PARAM",
    "DEFAULT_FREEZE_DEPTH",
    "DEFAULT_NUM_CLASSES",
    "LLAMA2_7B_PARAMS",
    "architecture_stages",
    "frozen_backbone_library",
    "head_params",
    "llm_lora_library",
    "lora_adapter_params",
    "nested_sharing_library",
    "random_library",
    "synthetic_library",
]

#: Bytes per parameter for the supported storage data types.
BYTES_PER_PARAM: dict[str, int] = {"fp32": 4, "fp16": 2}

#: Parameters of Llama-2-7B (the base of :func:`llm_lora_library`).
LLAMA2_7B_PARAMS = 6_738_415_616

# Backbone stages (everything except the head), bottom to top, in parameters.
_RESNET_BACKBONES: dict[str, tuple[tuple[str, int], ...]] = {
    "resnet18": (("stem", 9_536), ("layer1", 147_968), ("layer2", 525_568),
                 ("layer3", 2_099_712), ("layer4", 8_393_728)),
    "resnet34": (("stem", 9_536), ("layer1", 221_952), ("layer2", 1_116_416),
                 ("layer3", 6_822_400), ("layer4", 13_114_368)),
    "resnet50": (("stem", 9_536), ("layer1", 215_808), ("layer2", 1_219_584),
                 ("layer3", 7_098_368), ("layer4", 14_964_736)),
}
_ENCODER_BLOCK = 7_087_872          # one ViT-B/16 or BERT-base encoder layer (hidden 768, MLP 3072)
_VIT_PATCH_EMBED = 590_592          # conv_proj 16x16x3 -> 768, with bias
_VIT_CLS_TOKEN = 768
_VIT_POS_EMBED = 151_296            # (196 + 1) x 768
_VIT_NORM = 1_536
_BERT_EMBEDDINGS = 23_837_184       # word (30522) + position (512) + type (2) embeddings + LayerNorm
_BERT_POOLER = 590_592

_BACKBONES: dict[str, tuple[tuple[str, int], ...]] = {
    **_RESNET_BACKBONES,
    "vit_b16": (("embed", _VIT_PATCH_EMBED + _VIT_CLS_TOKEN + _VIT_POS_EMBED),
                *((f"block{b}", _ENCODER_BLOCK) for b in range(12)),
                ("norm", _VIT_NORM)),
    "bert_base": (("embeddings", _BERT_EMBEDDINGS),
                  *((f"layer{b}", _ENCODER_BLOCK) for b in range(12)),
                  ("pooler", _BERT_POOLER)),
}
# Head for c classes = _HEAD_IN[name] * c + c (a linear layer with bias).
_HEAD_IN = {"resnet18": 512, "resnet34": 512, "resnet50": 2048, "vit_b16": 768, "bert_base": 768}
_HEAD_NAME = {"resnet18": "fc", "resnet34": "fc", "resnet50": "fc", "vit_b16": "head",
              "bert_base": "classifier"}

#: Supported architecture names, in a fixed order.
ARCHITECTURES: tuple[str, ...] = tuple(_BACKBONES)

#: Default number of output classes of each architecture's head.
DEFAULT_NUM_CLASSES: dict[str, int] = {"resnet18": 1000, "resnet34": 1000, "resnet50": 1000,
                                       "vit_b16": 1000, "bert_base": 2}

#: Default freeze depth (number of bottom stages frozen) of :func:`frozen_backbone_library`:
#: stem..layer3 for ResNets, embeddings + the first 10 encoder blocks for ViT-B/16 and BERT-base.
DEFAULT_FREEZE_DEPTH: dict[str, int] = {"resnet18": 4, "resnet34": 4, "resnet50": 4,
                                        "vit_b16": 11, "bert_base": 11}


# ---------------------------------------------------------------------------------- helpers
def _dtype_bytes(dtype: object) -> int:
    if not isinstance(dtype, str) or dtype not in BYTES_PER_PARAM:
        raise invalid("dtype", f"one of {sorted(BYTES_PER_PARAM)}", dtype)
    return BYTES_PER_PARAM[dtype]


def _arch(field: str, name: object) -> str:
    if not isinstance(name, str) or name not in _BACKBONES:
        raise invalid(field, f"an architecture name in {list(ARCHITECTURES)}", name)
    return name


def _families(families: object) -> tuple[str, ...]:
    if isinstance(families, str):
        families = (families,)
    if not isinstance(families, Sequence) or len(families) == 0:
        raise invalid("families", f"a non-empty sequence of names from {list(ARCHITECTURES)}", families)
    out = tuple(_arch(f"families[{t}]", f) for t, f in enumerate(families))
    if len(set(out)) != len(out):
        raise invalid("families", "distinct architecture names", list(out))
    return out


def _per_familyinteger(field: str, value: object, families: tuple[str, ...], default: Mapping[str, int] | None,
                    minimum: int) -> dict[str, int]:
    """Resolve an int / mapping / per-family sequence / None argument to one int per family."""
    if value is None:
        if default is None:
            raise invalid(field, "a value", None)
        return {f: default[f] for f in families}
    if isinstance(value, Mapping):
        unknown = [k for k in value if k not in families]
        if unknown:
            raise invalid(field, f"keys among {list(families)}", unknown)
        out = {}
        for f in families:
            if f in value:
                out[f] = integer(f"{field}[{f!r}]", value[f], minimum)
            elif default is not None:
                out[f] = default[f]
            else:
                raise invalid(field, f"a value for family {f!r}", dict(value))
        return out
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != len(families):
            raise invalid(field, f"one value per family ({len(families)})", f"{len(value)} values")
        pairs = enumerate(zip(families, value, strict=True))
        return {f: integer(f"{field}[{t}]", v, minimum) for t, (f, v) in pairs}
    v = integer(field, value, minimum)
    return {f: v for f in families}


def _class_range(class_range: object) -> tuple[int, int] | None:
    if class_range is None:
        return None
    if not isinstance(class_range, Sequence) or isinstance(class_range, str) or len(class_range) != 2:
        raise invalid("class_range", "None or a pair (low, high) of class counts", class_range)
    lo = integer("class_range[0]", class_range[0], 1)
    hi = integer("class_range[1]", class_range[1], lo)
    return lo, hi


def _pad(n: int) -> int:
    """Zero-padding width of indices ``0 .. n-1`` (at least 2)."""
    return max(2, len(str(max(n - 1, 0))))


def head_params(name: str, num_classes: int) -> int:
    """Parameters of the linear head of architecture ``name`` for ``num_classes`` outputs."""
    name = _arch("name", name)
    c = integer("num_classes", num_classes, 1)
    return _HEAD_IN[name] * c + c


def architecture_stages(name: str, num_classes: int | None = None) -> list[tuple[str, int]]:
    """Parameter count of every stage of an architecture, bottom to top, head last.

    Parameters
    ----------
    name : str
        One of ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"vit_b16"``, ``"bert_base"``.
    num_classes : int, optional
        Outputs of the head; default :data:`DEFAULT_NUM_CLASSES` (1000, or 2 for BERT).

    Returns
    -------
    list of (str, int)
        ``(stage name, parameters)``. The stages are

        * ResNet: ``stem`` (conv1 + bn1), ``layer1`` .. ``layer4``, ``fc``
          (``512 c + c``, or ``2048 c + c`` for ResNet-50);
        * ViT-B/16: ``embed`` (patch embedding 590,592 + class token 768 + position embedding
          151,296), ``block0`` .. ``block11`` (7,087,872 each), ``norm`` (1,536), ``head``
          (``768 c + c``);
        * BERT-base: ``embeddings`` (23,837,184), ``layer0`` .. ``layer11`` (7,087,872 each),
          ``pooler`` (590,592), ``classifier`` (``768 c + c``, default 2 classes).

    Raises
    ------
    InstanceError
        Unknown ``name`` or ``num_classes < 1``.

    Examples
    --------
    >>> sum(p for _, p in architecture_stages("resnet50"))
    25557032
    """
    name = _arch("name", name)
    c = DEFAULT_NUM_CLASSES[name] if num_classes is None else integer("num_classes", num_classes, 1)
    return [*_BACKBONES[name], (_HEAD_NAME[name], head_params(name, c))]


def lora_adapter_params(rank: int, n_layers: int = 32, hidden: int = 4096, n_matrices: int = 2) -> int:
    """Parameters of a LoRA adapter: ``n_layers * n_matrices * rank * (hidden + hidden)``.

    The default is rank-``rank`` LoRA on the query and value projections of Llama-2-7B
    (32 layers, hidden size 4096): 4,194,304 parameters at rank 8.
    """
    r = integer("rank", rank, 1)
    return (integer("n_layers", n_layers, 1) * integer("n_matrices", n_matrices, 1) * r
            * 2 * integer("hidden", hidden, 1))


def _class_counts(families: tuple[str, ...], counts: dict[str, int], num_classes: object,
                  class_range: object, seed: object) -> dict[str, list[int]]:
    """Number of head classes of every model of every family."""
    fixed = _per_familyinteger("num_classes", num_classes, families, DEFAULT_NUM_CLASSES, 1)
    rng_range = _class_range(class_range)
    if rng_range is None:
        return {f: [fixed[f]] * counts[f] for f in families}
    rng = make_rng(seed)
    lo, hi = rng_range
    return {f: [int(c) for c in rng.integers(lo, hi + 1, size=counts[f])] for f in families}


# ---------------------------------------------------------------------------------- real zoos
def frozen_backbone_library(
    families: Sequence[str] = ("resnet18", "resnet34", "resnet50"),
    models_per_family: int | Sequence[int] | Mapping[str, int] = 10,
    freeze_stages: int | Sequence[int] | Mapping[str, int] | None = None,
    dtype: str = "fp32",
    num_classes: int | Sequence[int] | Mapping[str, int] | None = None,
    seed: int | np.random.Generator | None = None,
    *,
    class_range: tuple[int, int] | None = None,
) -> ModelLibrary:
    """Special-case library: per family one shared frozen backbone, per model one private block.

    Every model of family ``b`` freezes the same bottom ``freeze_stages[b]`` stages; their sum
    is **one** shared block ``"<b>/frozen"``. Each model ``"<b>/task<t>"`` has **one** private
    block ``"<b>/task<t>/private"`` made of the remaining stages and its head.

    Parameters
    ----------
    families : sequence of str
        Architecture names (see :func:`architecture_stages`), distinct. They are the family names.
    models_per_family : int, or one int per family (sequence or mapping)
        Number of fine-tuned models of every family, >= 1.
    freeze_stages : int, or one int per family (sequence or mapping), optional
        Number of bottom stages frozen, in ``[1, L - 1]`` with ``L`` the number of stages
        including the head. Default :data:`DEFAULT_FREEZE_DEPTH` (stem..layer3 for ResNets,
        embeddings + 10 encoder blocks for ViT/BERT).
    dtype : {"fp32", "fp16"}
        Storage type; block size = parameters * :data:`BYTES_PER_PARAM` ``[dtype]``.
    num_classes : int, or one int per family (sequence or mapping), optional
        Classes of every head; default :data:`DEFAULT_NUM_CLASSES`.
    seed : int or numpy Generator, optional
        Only used with ``class_range``.
    class_range : (int, int), optional
        If given, every model's number of classes is drawn uniformly from ``[low, high]``
        (inclusive) with ``seed``, overriding ``num_classes``.

    Returns
    -------
    ModelLibrary
        Blocks family by family: the frozen block, then the private blocks in model order.

    Raises
    ------
    InstanceError
        Unknown architecture, ``models_per_family < 1``, freeze depth out of range, bad dtype,
        bad class counts or seed.

    Examples
    --------
    >>> lib = frozen_backbone_library(("resnet18",), models_per_family=2)
    >>> lib.block_names
    ('resnet18/frozen', 'resnet18/task00/private', 'resnet18/task01/private')
    >>> int(lib.block_sizes[0]) // 4
    2782784
    """
    fams = _families(families)
    bpp = _dtype_bytes(dtype)
    counts = _per_familyinteger("models_per_family", models_per_family, fams, None, 1)
    depths = _per_familyinteger("freeze_stages", freeze_stages, fams, DEFAULT_FREEZE_DEPTH, 1)
    for f in fams:
        n_stages = len(_BACKBONES[f]) + 1
        integer(f"freeze_stages[{f!r}]", depths[f], 1, n_stages - 1)
    classes = _class_counts(fams, counts, num_classes, class_range, seed)

    sizes: list[float] = []
    block_names: list[str] = []
    model_blocks: list[list[int]] = []
    model_names: list[str] = []
    model_family: list[int] = []
    for fid, f in enumerate(fams):
        backbone = _BACKBONES[f]
        d = depths[f]
        frozen = sum(p for _, p in backbone[:d])
        top = sum(p for _, p in backbone[d:])
        shared_id = len(sizes)
        sizes.append(float(frozen * bpp))
        block_names.append(f"{f}/frozen")
        width = _pad(counts[f])
        for t in range(counts[f]):
            name = f"{f}/task{t:0{width}d}"
            model_blocks.append([shared_id, len(sizes)])
            sizes.append(float((top + head_params(f, classes[f][t])) * bpp))
            block_names.append(f"{name}/private")
            model_names.append(name)
            model_family.append(fid)
    return ModelLibrary.from_lists(sizes, model_blocks, model_names=model_names, families=model_family,
                                   family_names=fams, block_names=block_names)


def _resolve_depths(depths: object, fams: tuple[str, ...], counts: dict[str, int],
                    n_stages: dict[str, int], depth_range: object, seed: object) -> dict[str, list[int]]:
    """Freeze depth of every model, validated against ``[1, L - 1]``."""
    total = sum(counts.values())
    out: dict[str, list[int]] = {}
    if depths is not None:
        if isinstance(depths, Mapping):
            unknown = [k for k in depths if k not in fams]
            missing = [f for f in fams if f not in depths]
            if unknown or missing:
                raise invalid("depths", f"one sequence of depths for each of {list(fams)}",
                              f"unknown {unknown}, missing {missing}")
            per = {f: depths[f] for f in fams}
        elif isinstance(depths, (Sequence, np.ndarray)) and not isinstance(depths, str):
            if len(depths) != total:
                raise invalid("depths", f"{total} depths (one per model, family by family)",
                              f"{len(depths)} depths")
            per, start = {}, 0
            for f in fams:
                per[f] = depths[start:start + counts[f]]
                start += counts[f]
        else:
            raise invalid("depths", "None, a sequence of ints or a mapping family -> ints", depths)
        for f in fams:
            seq = per[f]
            if not isinstance(seq, (Sequence, np.ndarray)) or isinstance(seq, str) or len(seq) != counts[f]:
                raise invalid(f"depths[{f!r}]", f"{counts[f]} depths", seq)
            out[f] = [integer(f"depths[{f!r}][{t}]", v, 1, n_stages[f] - 1) for t, v in enumerate(seq)]
        return out
    rng = make_rng(seed)
    for f in fams:
        hi_max = n_stages[f] - 1
        if depth_range is None:
            lo, hi = 1, hi_max
        else:
            if (not isinstance(depth_range, Sequence) or isinstance(depth_range, str)
                    or len(depth_range) != 2):
                raise invalid("depth_range", "None or a pair (low, high)", depth_range)
            lo = integer("depth_range[0]", depth_range[0], 1, hi_max)
            hi = integer("depth_range[1]", depth_range[1], lo, hi_max)
        out[f] = [int(v) for v in rng.integers(lo, hi + 1, size=counts[f])]
    return out


def nested_sharing_library(
    families: Sequence[str] = ("resnet18", "resnet34", "resnet50"),
    models_per_family: int | Sequence[int] | Mapping[str, int] = 10,
    depths: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    seed: int | np.random.Generator | None = None,
    dtype: str = "fp32",
    *,
    depth_range: tuple[int, int] | None = None,
    num_classes: int | Sequence[int] | Mapping[str, int] | None = None,
    class_range: tuple[int, int] | None = None,
    split_private: bool = False,
) -> ModelLibrary:
    """General-case library: per-model freeze depths give nested (prefix) sharing.

    Model ``i`` of family ``b`` has freeze depth ``f_i``: stages ``0 .. f_i - 1`` are frozen.
    Frozen stage ``s`` of family ``b`` is **one** block ``"<b>/<stage>"`` shared by every model
    of ``b`` with ``f_i > s`` (created only if some model freezes it). The unfrozen stages and
    the head form the model's private part.

    Parameters
    ----------
    families, models_per_family, dtype, num_classes, class_range
        As in :func:`frozen_backbone_library`.
    depths : sequence of int, or mapping family -> sequence of int, optional
        Freeze depth of every model (a flat sequence is family by family, in model order), each
        in ``[1, L - 1]`` where ``L`` counts the stages including the head. Default: drawn
        uniformly from ``depth_range`` with ``seed``.
    seed : int or numpy Generator, optional
        Seed for the depths (and the class counts with ``class_range``).
    depth_range : (int, int), optional
        Inclusive range of the random depths; default ``(1, L - 1)`` per family (for ResNets
        ``1`` = stem only, ``5`` = whole backbone frozen, only the head private).
    split_private : bool
        ``False`` (default): one private block ``"<b>/task<t>/private"`` per model covering all
        its unfrozen stages and the head. ``True``: one private block per unfrozen stage,
        ``"<b>/task<t>/<stage>"``.

    Returns
    -------
    ModelLibrary
        Blocks family by family: the used shared stage blocks in stage order, then the private
        blocks in model order. ``block_model_count`` of stage ``s`` of family ``b`` is
        ``#{i in b : f_i > s}``.

    Raises
    ------
    InstanceError
        Unknown architecture, bad counts, depths or depth range out of range, bad dtype or seed.
    """
    fams = _families(families)
    bpp = _dtype_bytes(dtype)
    counts = _per_familyinteger("models_per_family", models_per_family, fams, None, 1)
    if not isinstance(split_private, (bool, np.bool_)):
        raise invalid("split_private", "a bool", split_private)
    n_stages = {f: len(_BACKBONES[f]) + 1 for f in fams}
    rng = make_rng(seed)
    model_depths = _resolve_depths(depths, fams, counts, n_stages, depth_range, rng)
    classes = _class_counts(fams, counts, num_classes, class_range, rng)

    sizes: list[float] = []
    block_names: list[str] = []
    model_blocks: list[list[int]] = []
    model_names: list[str] = []
    model_family: list[int] = []
    for fid, f in enumerate(fams):
        deepest = max(model_depths[f])
        shared_ids = []
        for stage, params in _BACKBONES[f][:deepest]:
            shared_ids.append(len(sizes))
            sizes.append(float(params * bpp))
            block_names.append(f"{f}/{stage}")
        width = _pad(counts[f])
        for t in range(counts[f]):
            name = f"{f}/task{t:0{width}d}"
            d = model_depths[f][t]
            stages = architecture_stages(f, classes[f][t])
            blocks = shared_ids[:d]
            if split_private:
                for stage, params in stages[d:]:
                    blocks.append(len(sizes))
                    sizes.append(float(params * bpp))
                    block_names.append(f"{name}/{stage}")
            else:
                blocks.append(len(sizes))
                sizes.append(float(sum(p for _, p in stages[d:]) * bpp))
                block_names.append(f"{name}/private")
            model_blocks.append(blocks)
            model_names.append(name)
            model_family.append(fid)
    return ModelLibrary.from_lists(sizes, model_blocks, model_names=model_names, families=model_family,
                                   family_names=fams, block_names=block_names)


def llm_lora_library(
    n_adapters: int = 20,
    n_bases: int = 1,
    rank: int | Sequence[int] = 8,
    dtype: str = "fp16",
    seed: int | np.random.Generator | None = None,
    *,
    base_params: int = LLAMA2_7B_PARAMS,
    n_layers: int = 32,
    hidden: int = 4096,
    base_name: str = "llama2_7b",
) -> ModelLibrary:
    """LLM library: base models as shared blocks, one LoRA adapter block per model.

    Model ``"<base>/lora<a>"`` consists of its base block ``"<base>/base"`` and its own adapter
    block ``"<base>/lora<a>/adapter"``. With several bases (distinct checkpoints of the same
    architecture, e.g. chat and code variants) the families are ``"<base_name>-<b>"``.

    Parameters
    ----------
    n_adapters : int
        Total number of adapters (= models), ``>= n_bases`` so that every base is used.
    n_bases : int
        Number of base models (families), >= 1.
    rank : int or sequence of int
        LoRA rank of all adapters, or one rank per adapter. Adapter parameters are
        :func:`lora_adapter_params` ``(rank, n_layers, hidden)`` (4,194,304 at rank 8).
    dtype : {"fp16", "fp32"}
        Storage type of base and adapters.
    seed : int or numpy Generator, optional
        ``None``: adapters are assigned to bases round robin. Otherwise every base gets one
        adapter and the others are assigned uniformly at random with this seed.
    base_params : int
        Parameters of a base model; default Llama-2-7B (6,738,415,616).
    n_layers, hidden : int
        Transformer layers and hidden size used for the adapter size (LoRA on q and v).
    base_name : str
        Name of the base architecture, used in family, model and block names.

    Returns
    -------
    ModelLibrary
        Blocks: the bases, then the adapters in model order. Models are grouped by base.

    Raises
    ------
    InstanceError
        On bad counts, ranks, dtype or seed.
    """
    bpp = _dtype_bytes(dtype)
    n_bases = integer("n_bases", n_bases, 1)
    n_adapters = integer("n_adapters", n_adapters, n_bases)
    base_params = integer("base_params", base_params, 1)
    if not isinstance(base_name, str) or not base_name:
        raise invalid("base_name", "a non-empty string", base_name)
    if isinstance(rank, Sequence) and not isinstance(rank, str):
        if len(rank) != n_adapters:
            raise invalid("rank", f"an int or {n_adapters} ranks", f"{len(rank)} ranks")
        ranks = [integer(f"rank[{a}]", r, 1) for a, r in enumerate(rank)]
    else:
        ranks = [integer("rank", rank, 1)] * n_adapters
    adapter = [lora_adapter_params(r, n_layers, hidden) for r in ranks]

    if seed is None:
        assign = np.arange(n_adapters) % n_bases
    else:
        rng = make_rng(seed)
        assign = np.concatenate([np.arange(n_bases), rng.integers(0, n_bases, size=n_adapters - n_bases)])
        rng.shuffle(assign)
    fam_names = [base_name] if n_bases == 1 else [f"{base_name}-{b}" for b in range(n_bases)]
    sizes = [float(base_params * bpp)] * n_bases
    block_names = [f"{fam}/base" for fam in fam_names]
    model_blocks: list[list[int]] = []
    model_names: list[str] = []
    model_family: list[int] = []
    order = np.argsort(assign, kind="stable")
    for b in range(n_bases):
        members = order[assign[order] == b]
        width = _pad(members.size)
        for t, src in enumerate(members):
            name = f"{fam_names[b]}/lora{t:0{width}d}"
            model_blocks.append([b, len(sizes)])
            sizes.append(float(adapter[int(src)] * bpp))
            block_names.append(f"{name}/adapter")
            model_names.append(name)
            model_family.append(b)
    return ModelLibrary.from_lists(sizes, model_blocks, model_names=model_names, families=model_family,
                                   family_names=fam_names, block_names=block_names)


# ---------------------------------------------------------------------------------- synthetic
def synthetic_library(
    n_models: int,
    n_families: int = 10,
    n_stages: int = 4,
    *,
    shared_fraction: float = 0.7,
    median_bytes: float = 50e6,
    sigma: float = 0.5,
    nested: bool = True,
    seed: int | np.random.Generator | None = None,
) -> ModelLibrary:
    """Seeded random library with backbone families and controllable sharing.

    Construction (every size rounded to whole bytes, at least 1):

    1. ``F = min(n_families, n_models)`` families; models are split as evenly as possible,
       family by family (the first ``n_models % F`` families get one extra model).
    2. Family ``b`` has a backbone of ``shared_fraction * median_bytes * LogNormal(0, sigma)``
       bytes, split into ``n_stages`` stages with Dirichlet(2, ..., 2) proportions.
    3. Every model has a head of ``(1 - shared_fraction) * median_bytes * LogNormal(0, sigma)``
       bytes.
    4. ``nested=True`` (general case, like :func:`nested_sharing_library`): model ``i`` draws a
       freeze depth ``f_i`` uniform in ``[1, n_stages]``; backbone stage ``s`` of its family is a
       block shared by the family's models with ``f_i > s``; the unfrozen stages plus the head
       form one private block. ``nested=False`` (special case, like
       :func:`frozen_backbone_library`): the whole backbone is one shared block per family and
       the head is the private block.

    A model's size is its backbone plus its head in both cases, so ``shared_fraction`` is the
    expected share of a model's bytes that *can* be shared (exactly what is shared with
    ``nested=False``).

    Parameters
    ----------
    n_models : int
        Number of models I, >= 1.
    n_families, n_stages : int
        Number of backbone families and backbone stages, >= 1.
    shared_fraction : float
        In ``(0, 1)``.
    median_bytes : float
        Median model size in bytes, > 0.
    sigma : float
        Log-normal spread, >= 0 (0 gives identical sizes).
    nested : bool
        Prefix sharing (True) or one shared block per family (False).
    seed : int or numpy Generator, optional
        Same seed, same library.

    Returns
    -------
    ModelLibrary
        Names ``"fam<b>/model<i>"``, blocks ``"fam<b>/stage<s>"`` (or ``"fam<b>/backbone"``) and
        ``"fam<b>/model<i>/private"``.

    Raises
    ------
    InstanceError
        On any out-of-range argument.
    """
    n_models = integer("n_models", n_models, 1)
    n_families = integer("n_families", n_families, 1)
    n_stages = integer("n_stages", n_stages, 1)
    shared_fraction = real("shared_fraction", shared_fraction, low=0.0, high=1.0,
                             low_open=True, high_open=True)
    median_bytes = real("median_bytes", median_bytes, low=0.0, low_open=True)
    sigma = real("sigma", sigma, low=0.0)
    if not isinstance(nested, (bool, np.bool_)):
        raise invalid("nested", "a bool", nested)
    rng = make_rng(seed)

    n_fam = min(n_families, n_models)
    per_fam = np.full(n_fam, n_models // n_fam, dtype=np.int64)
    per_fam[: n_models % n_fam] += 1
    family = np.repeat(np.arange(n_fam), per_fam)
    backbone = shared_fraction * median_bytes * rng.lognormal(0.0, sigma, size=n_fam)
    stage = np.maximum(np.round(backbone[:, None] * rng.dirichlet(np.full(n_stages, 2.0), size=n_fam)), 1.0)
    head = np.maximum(np.round((1.0 - shared_fraction) * median_bytes
                               * rng.lognormal(0.0, sigma, size=n_models)), 1.0)
    if nested:
        depth = rng.integers(1, n_stages + 1, size=n_models)
    else:
        depth = np.full(n_models, n_stages)
    # suffix[b, d] = bytes of stages d.. of family b (the part a depth-d model retrains)
    suffix = np.zeros((n_fam, n_stages + 1))
    suffix[:, :n_stages] = np.cumsum(stage[:, ::-1], axis=1)[:, ::-1]
    private = head + suffix[family, depth]

    fw, mw, sw = len(str(n_fam - 1)), len(str(n_models - 1)), len(str(n_stages - 1))
    fam_names = [f"fam{b:0{fw}d}" for b in range(n_fam)]
    sizes: list[float] = []
    block_names: list[str] = []
    shared_ids: list[list[int]] = []
    for b in range(n_fam):
        members = family == b
        if nested:
            ids = []
            for s in range(int(depth[members].max())):
                ids.append(len(sizes))
                sizes.append(float(stage[b, s]))
                block_names.append(f"{fam_names[b]}/stage{s:0{sw}d}")
            shared_ids.append(ids)
        else:
            shared_ids.append([len(sizes)])
            sizes.append(float(stage[b].sum()))
            block_names.append(f"{fam_names[b]}/backbone")
    first_private = len(sizes)
    model_names = [f"{fam_names[b]}/model{i:0{mw}d}" for i, b in enumerate(family.tolist())]
    block_names.extend(f"{name}/private" for name in model_names)
    sizes.extend(private.tolist())
    if nested:
        model_blocks = [shared_ids[b][:d] + [first_private + i]
                        for i, (b, d) in enumerate(zip(family.tolist(), depth.tolist(), strict=True))]
    else:
        model_blocks = [[shared_ids[b][0], first_private + i] for i, b in enumerate(family.tolist())]
    return ModelLibrary.from_lists(sizes, model_blocks, model_names=model_names, families=family,
                                   family_names=fam_names, block_names=block_names)


def random_library(
    n_models: int,
    n_blocks: int,
    max_blocks_per_model: int,
    seed: int | np.random.Generator | None = None,
    *,
    n_families: int = 1,
    size_range: tuple[float, float] = (1.0, 100.0),
) -> ModelLibrary:
    """Random library with arbitrary (non-nested) sharing, for property tests.

    Block sizes are uniform in ``size_range``. Model ``i`` draws ``k_i`` uniform in
    ``[1, max_blocks_per_model]`` and then ``k_i`` distinct blocks uniformly; its family is
    uniform in ``[0, n_families)``. Every model is non-empty; some blocks may be used by no
    model (``block_model_count == 0``) and some families may have no model.

    Parameters
    ----------
    n_models, n_blocks : int
        Number of models and blocks, >= 1.
    max_blocks_per_model : int
        In ``[1, n_blocks]``.
    seed : int or numpy Generator, optional
        Same seed, same library.
    n_families : int
        Number of family labels, >= 1.
    size_range : (float, float)
        ``0 < low <= high``, finite.

    Returns
    -------
    ModelLibrary
        With default names ``model<i>``, ``block<j>``, ``family<f>``.

    Raises
    ------
    InstanceError
        On any out-of-range argument.
    """
    n_models = integer("n_models", n_models, 1)
    n_blocks = integer("n_blocks", n_blocks, 1)
    kmax = integer("max_blocks_per_model", max_blocks_per_model, 1, n_blocks)
    n_families = integer("n_families", n_families, 1)
    if not isinstance(size_range, Sequence) or isinstance(size_range, str) or len(size_range) != 2:
        raise invalid("size_range", "a pair (low, high)", size_range)
    lo = real("size_range[0]", size_range[0], low=0.0, low_open=True)
    hi = real("size_range[1]", size_range[1], low=lo)
    rng = make_rng(seed)
    sizes = rng.uniform(lo, hi, size=n_blocks) if hi > lo else np.full(n_blocks, lo)
    ks = rng.integers(1, kmax + 1, size=n_models)
    model_blocks = [rng.choice(n_blocks, size=k, replace=False) for k in ks.tolist()]
    families = rng.integers(0, n_families, size=n_models)
    return ModelLibrary.from_lists(sizes, model_blocks, families=families,
                                   family_names=[f"family{f}" for f in range(n_families)])


# ---------------------------------------------------------------------------------------- per-model constants
#: Default batch-1 inference time per architecture (spec §7; resnet18/34 and the LLM are INFERRED).
INFER_TIME_S: dict[str, float] = {"resnet18": 0.002, "resnet34": 0.0035, "resnet50": 0.005, "vit_b16": 0.008,
                                  "bert_base": 0.006, "llama2_7b": 1.0, "default": 0.005}
#: Default input size per architecture in bits (spec §7): a 224x224x3 8-bit image, or 128 tokens.
INPUT_BITS: dict[str, float] = {"resnet18": 1_204_224.0, "resnet34": 1_204_224.0, "resnet50": 1_204_224.0,
                                "vit_b16": 1_204_224.0, "bert_base": 4_096.0, "llama2_7b": 4_096.0,
                                "default": 1_204_224.0}






def _family_key(name: str) -> str:
    """The architecture of a family name: the part before the first ``-``."""
    return name.split("-")[0]


def per_model_values(field_name: str, value: Any, library: ModelLibrary, table: Mapping[str, float]) -> np.ndarray:
    """One value per model of ``library``: a scalar, a sequence, or by architecture.

    ``value=None`` takes each model's entry of ``table`` by its family name, or by the family
    name up to a ``"-"`` (``"resnet50-frozen"`` -> ``"resnet50"``), else ``table["default"]``;
    a mapping overrides entries of ``table``. Raises InstanceError naming ``field_name``.
    """
    n = library.n_models
    if value is None or isinstance(value, Mapping):
        src = dict(table)
        if isinstance(value, Mapping):
            src.update({str(key): v for key, v in value.items()})
        fams = [_family_key(library.family_names[f]) for f in library.model_family.tolist()]
        full = [library.family_names[f] for f in library.model_family.tolist()]
        vals = [src.get(fn, src.get(fk, src["default"])) for fn, fk in zip(full, fams)]
        return float_array(field_name, vals, (n,), minimum=0.0)
    arr = float_array(field_name, value, minimum=0.0)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise invalid(field_name, f"a scalar, one value per model ({n}) or a mapping family -> value",
                      f"shape {arr.shape}")
    return arr
