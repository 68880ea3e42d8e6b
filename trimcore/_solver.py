"""Helpers around the external solvers (HiGHS through scipy.optimize)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["solver_stdout_silenced"]


@contextmanager
def solver_stdout_silenced() -> Iterator[None]:
    """Some HiGHS builds printf debug lines from the MIP solver; keep them off our stdout."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no file descriptor 1 (embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
