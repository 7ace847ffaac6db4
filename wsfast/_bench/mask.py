"""Masking (RFC 6455 §5.3): wsfast's ``mask``/``mask_inplace`` against the peers.

Two operations, because the peers split that way: ``mask`` returns a new
buffer (websockets, tornado, wsaccel, autobahn, wsproto) and ``mask_inplace``
XORs a ``bytearray`` in place (aiohttp). Each has a plain copy of the buffer as
the memory-bandwidth baseline.
"""

from __future__ import annotations

import functools
import importlib
import os
from typing import Any

from . import Call, Case, Operation, Setup, load

SIZES = (2, 125, 4 * 2**10, 64 * 2**10, 2**20, 16 * 2**20)
QUICK_SIZES = (2, 125, 4 * 2**10, 64 * 2**10, 2**20)
KEY = bytes.fromhex("37fa213d")


def make_case(size: int) -> Case:
    """Random payload (a fixed seed is unnecessary: the reference is computed)."""
    return Case(size, data=os.urandom(size), key=KEY)


def reference(case: Case) -> bytes:
    """Mask with Python integers: independent of every implementation under test."""
    data: bytes = case.data
    n = len(data)
    if not n:
        return b""
    offset = getattr(case, "offset", 0)  # the key phase of the first byte
    key = ((case.key[offset:] + case.key[:offset]) * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(n, "little")


def _phases(case: Case) -> list[Case]:
    """The payload (cut to at most 4 KiB) at key phases 1-3, for the check."""
    data = case.data[: 4 * 2**10 + 3]
    return [Case(case.size, data=data, key=case.key, offset=offset, label=f"offset {offset}")
            for offset in (1, 2, 3)]


_operation = functools.partial(
    Operation, family="mask", sizes=SIZES, quick_sizes=QUICK_SIZES, make_case=make_case,
    reference=reference,
)  # fmt: skip
MASK = _operation("mask", description="mask(data, key) -> new buffer")
MASK_INPLACE = _operation("mask_inplace", description="XOR a bytearray in place", variants=_phases)


def _wsfast_backend(name: str) -> Any:
    """``wsfast._c`` or ``wsfast._py``; ``_c`` only when the runtime selector chose it.

    Raises:
        ImportError: ``_c`` was asked for but is not in use (not built, or
            WSFAST_NO_EXTENSIONS is set), so the row is skipped with that reason.
    """
    import wsfast

    if name == "_c" and wsfast.BACKEND != "c":
        raise ImportError("the compiled backend is not in use (not built, or WSFAST_NO_EXTENSIONS)")
    return importlib.import_module(f"wsfast.{name}")


WSFAST_BACKENDS = (("_c", "wsfast (c)"), ("_py", "wsfast (py)"))
"""(module, row label) of each wsfast backend."""


def _mask_loader(backend: str) -> Setup:
    mask = _wsfast_backend(backend).mask
    return lambda case: Call(mask, (case.data, case.key))


def _inplace_loader(backend: str) -> Setup:
    mask_inplace = _wsfast_backend(backend).mask_inplace

    def setup(case: Case) -> Call:
        buffer = bytearray(case.data)
        offset = getattr(case, "offset", 0)
        args = (buffer, case.key, offset) if offset else (buffer, case.key)
        return Call(mask_inplace, args, output=lambda _: buffer)

    return setup


for _backend, _label in WSFAST_BACKENDS:
    MASK.contender(_label, kind="wsfast", dist="wsfast")(functools.partial(_mask_loader, _backend))
    MASK_INPLACE.contender(_label, kind="wsfast", dist="wsfast")(
        functools.partial(_inplace_loader, _backend)
    )


@MASK.contender("websockets", dist="websockets")
def _websockets() -> Setup:
    apply_mask = load("websockets.speedups", "apply_mask")

    return lambda case: Call(apply_mask, (case.data, case.key))


@MASK.contender("tornado", dist="tornado")
def _tornado() -> Setup:
    websocket_mask = load("tornado.speedups", "websocket_mask")

    return lambda case: Call(websocket_mask, (case.key, case.data))


def _masker_loader(module: str) -> Setup:
    """A peer's ``XorMaskerSimple(key).process(data)``."""
    masker = load(module, "XorMaskerSimple")
    # A masker is created per frame in real use; creating it is part of the cost.
    return lambda case: Call(lambda d, k: masker(k).process(d), (case.data, case.key))


def _autobahn() -> Setup:
    create_xor_masker = load("autobahn.websocket.xormasker", "create_xor_masker")
    if not load("autobahn.websocket", "USES_NVX"):
        raise ImportError("autobahn's NVX (compiled) masker is not available")
    return lambda case: Call(
        lambda d, k: create_xor_masker(k, len(d)).process(d), (case.data, case.key)
    )


MASK.contender("wsaccel", dist="wsaccel")(functools.partial(_masker_loader, "wsaccel.xormask"))
MASK.contender("autobahn", dist="autobahn")(_autobahn)
MASK.contender("wsproto", dist="wsproto")(
    functools.partial(_masker_loader, "wsproto.frame_protocol")
)


@MASK.contender("copy (bytes)", kind="baseline")
def _copy() -> Setup:
    # Not a mask: the reference output is copied, so the check passes and the
    # row shows what allocating and writing n bytes costs. The source is a
    # bytearray because bytes(b) returns b itself when b is bytes.
    def setup(case: Case) -> Call:
        return Call(bytes, (bytearray(reference(case)),))

    return setup


@MASK_INPLACE.contender("aiohttp", dist="aiohttp")
def _aiohttp() -> Setup:
    try:
        mask = load("aiohttp._websocket.mask", "_websocket_mask_cython")
    except ImportError:  # older aiohttp: a single aiohttp._websocket module
        mask = load("aiohttp._websocket", "_websocket_mask_cython")

    def setup(case: Case) -> Call:
        buffer = bytearray(case.data)
        return Call(mask, (bytes(case.key), buffer), output=lambda _: buffer)

    return setup


@MASK_INPLACE.contender("copy (into buffer)", kind="baseline")
def _copy_into() -> Setup:
    def setup(case: Case) -> Call:
        # buffer[:] = source through the C slot, so no Python frame is timed;
        # a bytearray source is memcpy'd directly (any other type is first
        # converted to a temporary bytearray, which would double the cost).
        source = bytearray(reference(case))
        buffer = bytearray(len(source))
        return Call(buffer.__setitem__, (slice(None), source), output=lambda _: buffer)

    return setup
