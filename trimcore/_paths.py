"""Where the installed package keeps the C++ core for C++ projects (headers, CMake package)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["cmake_prefix", "get_include"]

_HERE = Path(__file__).resolve().parent


def cmake_prefix() -> str:
    """The prefix for ``CMAKE_PREFIX_PATH`` under which ``find_package(trimcore)`` finds the C++
    core installed with this package (its headers and ``trimcoreConfig.cmake``; no Python needed
    by the C++ project).

    Raises
    ------
    FileNotFoundError
        This trimcore runs from a source tree (not installed from a wheel); there, use
        ``add_subdirectory(<checkout>)`` or install the core with CMake.
    """
    if (_HERE / "share" / "cmake" / "trimcore" / "trimcoreConfig.cmake").is_file():
        return str(_HERE)
    raise FileNotFoundError(f"{_HERE} holds no installed C++ package (a source tree: use add_subdirectory "
                            "or `cmake --install` of the checkout)")


def get_include() -> str:
    """The directory holding ``trimcore/*.hpp`` (installed, or the source tree's ``csrc/include``)."""
    for candidate in (_HERE / "include", _HERE.parent / "csrc" / "include"):
        if (candidate / "trimcore" / "bitset.hpp").is_file():
            return str(candidate)
    raise FileNotFoundError(f"no trimcore C++ headers next to {_HERE}")
