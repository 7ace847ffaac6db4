# cython: language_level=3
"""Compiled backend: Cython glue between Python objects and the C kernels.

Argument checks, buffers, exceptions and the GIL live here; the work is done
by csrc/. Names and behaviour mirror wsfast._py exactly.
"""

from cpython.buffer cimport (
    PyBUF_SIMPLE,
    PyBUF_WRITABLE,
    PyBuffer_Release,
    PyObject_CheckBuffer,
    PyObject_GetBuffer,
)
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.number cimport PyNumber_Index
from libc.string cimport memcpy

from wsfast._buffers import buffer_error, key_length_error
from wsfast._env import forced_kernel
from wsfast.constants import GIL_RELEASE_THRESHOLD as _GIL_RELEASE_THRESHOLD

cdef Py_ssize_t GIL_RELEASE_THRESHOLD = _GIL_RELEASE_THRESHOLD


# ---- Buffers ------------------------------------------------------------------


cdef int get_buffer(object obj, Py_buffer *view, str name, bint writable) except -1:
    """Acquire a flat byte buffer, raising exactly what wsfast._py raises."""
    cdef int flags = PyBUF_WRITABLE if writable else PyBUF_SIMPLE
    if PyObject_CheckBuffer(obj):
        try:
            PyObject_GetBuffer(obj, view, flags)
            return 0
        except BufferError:
            pass
    raise buffer_error(obj, name, writable)


cdef int get_key(object key, unsigned char out[4]) except -1:
    """Copy a 4-byte masking key into ``out`` (RFC 6455 §5.3)."""
    cdef Py_buffer view
    get_buffer(key, &view, "key", False)
    try:
        if view.len != 4:
            raise key_length_error(view.len)
        memcpy(out, view.buf, 4)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef inline void rotate_key(const unsigned char key[4], Py_ssize_t phase, unsigned char out[4]) noexcept:
    """The key as seen from payload byte ``phase``: out[i] = key[(phase + i) % 4]."""
    cdef int i
    for i in range(4):
        out[i] = key[(phase + i) & 3]


cdef inline void run_mask(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
                          const unsigned char key[4]) noexcept:
    """Mask with the selected kernel, without the GIL for large buffers."""
    if n >= GIL_RELEASE_THRESHOLD:
        with nogil:
            wsfast_mask(dst, src, <size_t>n, key)
    else:
        wsfast_mask(dst, src, <size_t>n, key)


# ---- Masking (RFC 6455 §5.3) ----------------------------------------------------


def mask(data, key):
    """mask(data, key) -> bytes

    Return ``data`` XORed with the 4-byte ``key`` repeated (RFC 6455 §5.3).
    """
    cdef unsigned char k[4]
    cdef Py_buffer view
    get_key(key, k)
    get_buffer(data, &view, "data", False)
    try:
        result = PyBytes_FromStringAndSize(NULL, view.len)
        run_mask(<unsigned char *>PyBytes_AS_STRING(result),
                 <const unsigned char *>view.buf, view.len, k)
    finally:
        PyBuffer_Release(&view)
    return result


def mask_inplace(buffer, key, offset=0):
    """mask_inplace(buffer, key, offset=0) -> int

    XOR a writable buffer in place, byte i with ``key[(offset + i) % 4]``;
    return ``(offset + len(buffer)) % 4``.
    """
    cdef unsigned char k[4]
    cdef unsigned char rotated[4]
    cdef Py_buffer view
    cdef Py_ssize_t phase
    get_key(key, k)
    phase = PyNumber_Index(offset) % 4
    get_buffer(buffer, &view, "buffer", True)
    try:
        rotate_key(k, phase, rotated)
        run_mask(<unsigned char *>view.buf, <const unsigned char *>view.buf, view.len, rotated)
        return (phase + view.len) & 3
    finally:
        PyBuffer_Release(&view)


cdef class Masker:
    """Masks a payload that arrives in pieces, continuing the key phase."""

    cdef unsigned char keys[4][4]
    cdef Py_ssize_t _offset

    def __init__(self, key):
        cdef unsigned char k[4]
        get_key(key, k)
        for phase in range(4):
            rotate_key(k, phase, self.keys[phase])
        self._offset = 0

    @property
    def offset(self):
        """Key phase of the next byte, 0..3."""
        return self._offset

    def process(self, data):
        """Mask the next piece of the payload and return it."""
        cdef Py_buffer view
        get_buffer(data, &view, "data", False)
        try:
            result = PyBytes_FromStringAndSize(NULL, view.len)
            run_mask(<unsigned char *>PyBytes_AS_STRING(result),
                     <const unsigned char *>view.buf, view.len, self.keys[self._offset])
            self._offset = (self._offset + view.len) & 3
        finally:
            PyBuffer_Release(&view)
        return result

    def reset(self):
        """Start again from key phase 0."""
        self._offset = 0


# ---- UTF-8 validation (RFC 3629) ------------------------------------------------
# (utf8 section)


# ---- Kernel selection and introspection -------------------------------------------

KERNEL_NAMES = {}


cdef void refresh_kernel_names():
    KERNEL_NAMES["mask"] = wsfast_mask_name().decode()
    KERNEL_NAMES["utf8"] = wsfast_utf8_name().decode()


def _kernels():
    """Kernel levels this CPU and build support, best first."""
    return [wsfast_level_name(level).decode()
            for level in range(WSFAST_LEVEL_COUNT - 1, -1, -1)
            if wsfast_level_supported(level)]


def _current_kernel():
    """The selected kernel level."""
    return wsfast_level_name(wsfast_current_level()).decode()


def _set_kernel(name):
    """Select the kernels of a level for every family (tests, WSFAST_FORCE_KERNEL).

    Raises:
        ValueError: unknown level, or not supported by this CPU and build.
    """
    level = wsfast_level_from_name(name.encode())
    if level < 0:
        known = [wsfast_level_name(i).decode() for i in range(WSFAST_LEVEL_COUNT)]
        raise ValueError(f"unknown kernel {name!r}: expected one of {known}")
    if wsfast_select_level(level) != 0:
        raise ValueError(f"kernel {name!r} is not supported here: supported are {_kernels()}")
    refresh_kernel_names()


def _build_info():
    """How this extension was compiled."""
    return {
        "compiler": wsfast_compiler().decode(),
        "cflags": wsfast_build_flags().decode(),
    }


def _select_initial_kernel():
    forced = forced_kernel()
    if forced is None:
        wsfast_select_level(wsfast_best_level())
        refresh_kernel_names()
        return
    try:
        _set_kernel(forced)
    except ValueError as exc:
        # Loud on purpose: a pinned kernel that silently did not apply
        # would make a debugging session measure the wrong code.
        raise RuntimeError(f"WSFAST_FORCE_KERNEL: {exc}") from None


_select_initial_kernel()
