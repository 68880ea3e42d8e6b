"""The sharing tree of a model library (spec §5.3, assumption A1): the structure behind DP-PL."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trimcore._numeric import sequential_sum
from trimcore.errors import invalid
from trimcore.instance.blocks import ModelLibrary

__all__ = ["SharingTree", "sharing_tree", "LOADING_MODES"]

#: ``loading`` options: spec eq. 1 (blocks missing from the resident model) or eq. 2' (no sharing).
LOADING_MODES = ("partial", "full")


@dataclass(frozen=True, eq=False)
class SharingTree:
    """Laminar (tree) block sharing, the structure behind ``partialloading_dp`` (spec §5.3, A1).

    Inner nodes are the distinct *owner sets* ``{models containing block j}``; a node's size is
    the total size of the blocks with that owner set. Every model ``i`` also has a leaf of size 0
    below the deepest node that contains it, so a model's blocks are the nodes on its
    leaf-to-root path and ``L(i -> i')`` is the size of the nodes on ``i'``'s path below the
    lowest common ancestor. The root has size 0.

    Attributes
    ----------
    parent : ndarray of int64, shape (V,)
        Parent node, ``-1`` at the root.
    node_bytes : ndarray of float64, shape (V,)
    children_ptr, children : ndarray of int64
        CSR lists of children, ascending node id.
    leaf_model : ndarray of int64, shape (V,)
        Model of a leaf, ``-1`` for other nodes.
    model_leaf : ndarray of int64, shape (I,)
    postorder : ndarray of int64, shape (V,)
        Children before parents, root last.
    root : int
    """

    parent: np.ndarray
    node_bytes: np.ndarray
    children_ptr: np.ndarray
    children: np.ndarray
    leaf_model: np.ndarray
    model_leaf: np.ndarray
    postorder: np.ndarray
    root: int

    @property
    def n_nodes(self) -> int:
        """Number of nodes V (inner nodes, one leaf per model, the root)."""
        return self.parent.shape[0]

    def children_of(self, node: int) -> np.ndarray:
        """Children of ``node``, ascending id."""
        return self.children[self.children_ptr[node]:self.children_ptr[node + 1]]

    def path(self, model: int) -> list[int]:
        """Nodes from the leaf of ``model`` up to the root."""
        out, v = [], int(self.model_leaf[model])
        while v >= 0:
            out.append(v)
            v = int(self.parent[v])
        return out


def sharing_tree(library: ModelLibrary, loading: str = "partial") -> SharingTree:
    """The sharing tree of ``library`` under ``loading`` (see :class:`SharingTree`).

    With ``loading="full"`` every model is its own node (no sharing), which is always a tree.

    Raises
    ------
    InstanceError
        If the sharing is not laminar: two blocks are shared by model sets that overlap without
        one containing the other (assumption A1 of spec §5.3 violated).
    """
    if not isinstance(loading, str) or loading not in LOADING_MODES:
        raise invalid("loading", f"one of {LOADING_MODES}", loading)
    n_models = library.n_models
    sets: list[tuple[int, ...]] = []
    node_blocks: list[list[int]] = []
    if loading == "full":
        for i in range(n_models):
            sets.append((i,))
            node_blocks.append(library.blocks_of(i).tolist())
    else:
        ptr, owners = library.block_models
        index: dict[tuple[int, ...], int] = {}
        for j in range(library.n_blocks):
            key = tuple(owners[ptr[j]:ptr[j + 1]].tolist())
            if not key:
                continue
            if key not in index:
                index[key] = len(sets)
                sets.append(key)
                node_blocks.append([])
            node_blocks[index[key]].append(j)
    n_sets = len(sets)
    member: list[list[int]] = [[] for _ in range(n_models)]
    for s, key in enumerate(sets):
        for i in key:
            member[i].append(s)
    root = n_sets + n_models
    parent = np.full(root + 1, -1, dtype=np.int64)
    checked: set[tuple[int, int]] = set()
    for i in range(n_models):
        chain = sorted(member[i], key=lambda s: (-len(sets[s]), s))
        for a, b in zip(chain, chain[1:]):
            if (a, b) not in checked:
                if not set(sets[b]) <= set(sets[a]) or (parent[b] >= 0 and parent[b] != a):
                    raise invalid(
                        "model_blocks",
                        "laminar (tree) sharing, assumption A1 of partialloading_dp: block sets shared by "
                        "nested or disjoint groups of models",
                        f"block {node_blocks[a][0]} is shared by models {list(sets[a])} and block "
                        f"{node_blocks[b][0]} by models {list(sets[b])}, which overlap without nesting")
                checked.add((a, b))
            parent[b] = a
        parent[chain[0]] = root
        parent[n_sets + i] = chain[-1]
    node_bytes = np.zeros(root + 1)
    for s, blocks in enumerate(node_blocks):
        node_bytes[s] = sequential_sum(library.block_sizes[np.asarray(blocks, dtype=np.int64)])
    leaf_model = np.full(root + 1, -1, dtype=np.int64)
    leaf_model[n_sets:root] = np.arange(n_models)
    kids = parent[:root]
    order = np.argsort(kids, kind="stable")
    counts = np.bincount(kids, minlength=root + 1)
    children_ptr = np.zeros(root + 2, dtype=np.int64)
    np.cumsum(counts, out=children_ptr[1:])
    children = np.arange(root, dtype=np.int64)[order]
    post: list[int] = []
    stack = [(root, False)]
    while stack:
        v, done = stack.pop()
        if done:
            post.append(v)
            continue
        stack.append((v, True))
        for c in children[children_ptr[v]:children_ptr[v + 1]][::-1].tolist():
            stack.append((c, False))
    arrays = [parent, node_bytes, children_ptr, children, leaf_model]
    model_leaf = np.arange(n_sets, root, dtype=np.int64)
    postorder = np.asarray(post, dtype=np.int64)
    for arr in (*arrays, model_leaf, postorder):
        arr.setflags(write=False)
    return SharingTree(parent, node_bytes, children_ptr, children, leaf_model, model_leaf, postorder, root)
