"""Drop-in speedups: swap other WebSocket libraries' hot paths for wsfast's.

``install()`` patches, at run time, the masking and UTF-8 (and for some, the
frame parsing) functions of each supported library that is importable, so
existing code gets faster without a change. ``uninstall()`` puts the
originals back. Each library has one module here that lists its patches:
:mod:`.websockets`, :mod:`.wsproto`, :mod:`.tornado`, :mod:`.autobahn`,
:mod:`.aiohttp`.

A patch never changes what the library returns or raises for valid input
(the library's own test suites run with the patches installed, see
``tests/peers/``); the one deliberate difference is that invalid UTF-8 is
rejected at the first impossible byte instead of at the end of a chunk.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["SUPPORTED", "install", "installed", "uninstall"]

SUPPORTED = ("websockets", "wsproto", "tornado", "autobahn", "aiohttp")
"""Library names accepted by :func:`install` and :func:`uninstall`."""

# One patch: set ``owner.attribute`` to ``replacement``.
Patch = tuple[Any, str, Any]

# name -> the (owner, attribute, original) triples that install() replaced,
# in the order they were applied.
_applied: dict[str, list[tuple[Any, str, Any]]] = {}
_lock = threading.Lock()


def _patches_for(name: str) -> Iterable[Patch]:
    """The patches of library ``name`` (imports the library).

    Raises:
        ValueError: ``name`` is not a supported library.
        ImportError: the library is not installed.
    """
    if name not in SUPPORTED:
        raise ValueError(f"unknown library {name!r}; wsfast.integrations supports {SUPPORTED}")
    try:
        importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"wsfast.integrations.install({name!r}): the {name} library is not installed "
            f"or failed to import ({exc})",
            name=name,
        ) from exc
    module = importlib.import_module(f"{__name__}.{name}")
    patches: Callable[[], Iterable[Patch]] = module.patches
    return patches()


def _current(owner: Any, attribute: str) -> Any:
    """What ``owner.attribute`` holds; for a class, the raw descriptor (a
    classmethod must be put back as a classmethod, not as a bound method)."""
    if isinstance(owner, type) and attribute in vars(owner):
        return vars(owner)[attribute]
    return getattr(owner, attribute)


def install(*names: str) -> list[str]:
    """Patch the named libraries (all importable supported ones when none is named).

    Installing twice is a no-op; patches go on in one piece, so a library is
    either fully patched or untouched.

    Args:
        names: library names from :data:`SUPPORTED`.

    Returns:
        The names that are patched after the call, in :data:`SUPPORTED` order.

    Raises:
        ValueError: a name is not supported.
        ImportError: a named library is not installed (the message names it).
    """
    explicit = bool(names)
    with _lock:
        for name in names or SUPPORTED:
            if name in _applied:
                continue
            try:
                patches = list(_patches_for(name))
            except ImportError:
                if explicit:
                    raise
                continue
            # Read every original before the first setattr: all or nothing.
            applied = [
                (owner, attribute, _current(owner, attribute)) for owner, attribute, _ in patches
            ]
            for owner, attribute, replacement in patches:
                setattr(owner, attribute, replacement)
            _applied[name] = applied
        return [name for name in SUPPORTED if name in _applied]


def uninstall(*names: str) -> None:
    """Restore the originals of the named libraries (all patched ones when none is named).

    Uninstalling a library that is not patched is a no-op.

    Raises:
        ValueError: a name is not supported.
    """
    with _lock:
        for name in names or tuple(_applied):
            if name not in SUPPORTED:
                raise ValueError(
                    f"unknown library {name!r}; wsfast.integrations supports {SUPPORTED}"
                )
            if name not in _applied:
                continue
            # Reverse order, so an attribute patched twice gets its first original back.
            for owner, attribute, original in reversed(_applied.pop(name)):
                setattr(owner, attribute, original)
            # A module imported while the patch was on may have bound a replacement.
            after: Callable[[], None] | None = getattr(
                importlib.import_module(f"{__name__}.{name}"), "after_uninstall", None
            )
            if after is not None:
                after()


def installed() -> list[str]:
    """The libraries patched now, in :data:`SUPPORTED` order."""
    return [name for name in SUPPORTED if name in _applied]
