"""asv benchmarks of ``ModelLibrary.from_weights`` (issue #14): scanning is bound by reading bytes.

Instance (built once by ``setup_cache``, written with the ``safetensors`` package): 8 models of
256 MiB each, 2 GiB in all, two families whose models share a 192 MiB backbone (three layers) and
own a 64 MiB head, as ``.safetensors`` files. The target "within 2x of hashing the same files with
the same hash function in one streaming pass" is ``Scan.track_scan_over_stream``: the median time
of the scan (parse headers, hash every tensor through memory maps, build the library) over the
median time of BLAKE2b over every file, read sequentially in 8 MiB chunks, one after the other in
the same process. ``peakmem_scan`` shows that memory does not grow with the checkpoints' size.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

import trimcore as tc
from trimcore.instance.weights import CHUNK_BYTES

MIB = 2**20
N_MODELS, MODEL_MIB, BACKBONE_LAYERS, LAYER_MIB = 8, 256, 3, 64


def write_checkpoints(directory: str | Path, n_models: int = N_MODELS, seed: int = 0) -> list[str]:
    """The benchmark's checkpoints: two families, a shared backbone of three layers, a head each."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(seed)
    layer_elems = LAYER_MIB * MIB // 4
    backbones = [[rng.standard_normal(layer_elems, dtype=np.float32) for _ in range(BACKBONE_LAYERS)]
                 for _ in range(2)]
    paths = []
    for i in range(n_models):
        tensors = {f"model.layers.{k}.weight": w for k, w in enumerate(backbones[i % 2])}
        tensors["lm_head.weight"] = rng.standard_normal(layer_elems, dtype=np.float32)
        path = os.path.join(str(directory), f"model{i}.safetensors")
        save_file(tensors, path)
        paths.append(path)
    return paths


def setup_cache() -> list[str]:
    """asv ``setup_cache``: the checkpoints, in the cache directory asv runs it in (and removes)."""
    os.makedirs("weights", exist_ok=True)
    return write_checkpoints(os.path.abspath("weights"))


setup_cache.timeout = 600  # type: ignore[attr-defined]


def stream_hash(paths: list[str]) -> list[str]:
    """The floor: BLAKE2b over every file, read once sequentially in the scan's chunk size."""
    out = []
    for path in paths:
        digest = hashlib.blake2b(digest_size=20)
        with open(path, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                digest.update(chunk)
        out.append(digest.hexdigest())
    return out


def _median(fn, repeat: int = 3) -> float:
    from benchmarks.peers import median_seconds

    return median_seconds(fn, repeat)


class Scan:
    """The scan on 1 and 2 threads against one streaming pass over the same bytes."""

    params = ([1, 2],)
    param_names = ["workers"]
    timeout = 900
    setup_cache = staticmethod(setup_cache)

    def setup(self, paths, workers):
        self.paths = paths
        stream_hash(paths)  # the page cache holds the files for both sides alike

    def time_scan(self, paths, workers):
        tc.ModelLibrary.from_weights(paths, workers=workers, progress=False)

    def time_stream_hash(self, paths, workers):
        stream_hash(paths)

    def peakmem_scan(self, paths, workers):
        tc.ModelLibrary.from_weights(paths, workers=workers, progress=False)

    def track_scan_over_stream(self, paths, workers):
        scan = _median(lambda: tc.ModelLibrary.from_weights(paths, workers=workers, progress=False))
        return scan / _median(lambda: stream_hash(paths))

    track_scan_over_stream.unit = "ratio"  # type: ignore[attr-defined]


if __name__ == "__main__":  # a side-by-side run outside asv: python -m benchmarks.bench_weights
    with tempfile.TemporaryDirectory() as tmp:
        files = write_checkpoints(tmp)
        size = sum(os.path.getsize(f) for f in files)
        stream_hash(files)
        floor = _median(lambda: stream_hash(files))
        print(f"{len(files)} checkpoints, {size / 2**30:.2f} GiB; one streaming BLAKE2b pass: {floor:.2f} s "
              f"({size / floor / 2**30:.2f} GiB/s)")
        for workers in (1, 2):
            scan = _median(lambda w=workers: tc.ModelLibrary.from_weights(files, workers=w, progress=False))
            print(f"scan, {workers} worker(s): {scan:.2f} s = {scan / floor:.2f}x the pass")
        lib = tc.ModelLibrary.from_weights(files, progress=False)
        print(f"library: {lib.n_models} models, {lib.n_blocks} blocks, union {lib.union_size(range(8)) / 2**30:.2f} "
              f"GiB of {lib.model_sizes.sum() / 2**30:.2f} GiB")
