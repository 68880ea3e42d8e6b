"""C++ tier of the online caching kernels: ``trimcore._core.online_simulate`` (``csrc/include/trimcore/online.hpp``).

The core steps the same skeleton as :mod:`trimcore.kernels.online.reference` request by request
(``trimcore::online::Cache::on_request``), with the same floating-point operations in the same
order; only built-in policies run here (a Python policy object needs the reference tier).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trimcore import _core
from trimcore.errors import invalid
from trimcore.kernels.online.reference import POLICY_CODES


def online_simulate(inp: dict[str, Any], policy: str, flags: dict[str, Any]) -> dict[str, np.ndarray]:
    """Same contract as :func:`trimcore.kernels.online.reference.online_simulate` (built-in policies)."""
    if not isinstance(policy, str) or policy not in POLICY_CODES:
        raise invalid("policy", f"a built-in policy name {tuple(POLICY_CODES)} on the cpp tier", policy)
    out: dict[str, np.ndarray] = _core.online_simulate(inp, POLICY_CODES[policy], flags)
    return out


KERNELS = {"simulate": online_simulate}
