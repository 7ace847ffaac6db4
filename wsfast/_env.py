"""The single parser of the WSFAST_* switches.

Read at import time by :mod:`wsfast._backend` and exec'd by ``setup.py`` at
build time (before the package is importable), so both sides agree on what a
value means. Standard library only.
"""

from __future__ import annotations

import os
import warnings

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})
FALSE_VALUES = frozenset({"", "0", "false", "no", "off"})

FLAG_NAMES = (
    "WSFAST_NO_EXTENSIONS",
    "WSFAST_REQUIRE_EXTENSIONS",
    "WSFAST_DEBUG_BUILD",
    "WSFAST_SANITIZE",
    "WSFAST_CYTHON_ANNOTATE",
)


def env_flag(name: str, *, strict: bool = False) -> bool:
    """Return the boolean value of environment variable ``name``.

    Args:
        name: the variable's name.
        strict: raise on a value that is neither true nor false (build time);
            otherwise warn and treat it as false (import time).

    Raises:
        ValueError: ``strict`` and the value is not recognised.
    """
    value = os.environ.get(name, "").strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    message = (
        f"{name}={os.environ[name]!r} is not a boolean: use one of "
        f"{sorted(TRUE_VALUES)} or {sorted(FALSE_VALUES - {''})}"
    )
    if strict:
        raise ValueError(message)
    warnings.warn(message + "; treating it as false", RuntimeWarning, stacklevel=2)
    return False


def read_flags(*, strict: bool = False) -> dict[str, bool]:
    """All boolean switches at once, keyed by variable name."""
    return {name: env_flag(name, strict=strict) for name in FLAG_NAMES}


def forced_kernel() -> str | None:
    """The kernel level pinned by WSFAST_FORCE_KERNEL, or None."""
    value = os.environ.get("WSFAST_FORCE_KERNEL", "").strip().lower()
    return value or None
