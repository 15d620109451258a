"""Optional dependencies: a missing one is a clear message naming the extra to install."""

from __future__ import annotations

import importlib.util


class MissingExtra(ImportError):
    """An optional feature was used without its extra installed; the message says which."""


def installed(module: str) -> bool:
    """Whether `module` can be imported (without importing it)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def documents_installed() -> bool:
    """Whether the `documents` extra (the document pipeline's upload route and PDF reader) is installed."""
    return installed("python_multipart") and installed("pypdf")


def require(module: str, extra: str, feature: str) -> None:
    """Raise MissingExtra unless `module` is importable: `feature` needs `signalhub[extra]`."""
    if not installed(module):
        raise MissingExtra(
            f"{feature} needs the optional dependency {module!r}: pip install 'signalhub[{extra}]'"
        )
