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
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_GET_SIZE
from cpython.long cimport PyLong_AsLongAndOverflow
from cpython.ref cimport PyObject, Py_DECREF, Py_INCREF, Py_XDECREF
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
        except MemoryError:
            raise
        except Exception:
            # Exporters refuse in their own words (numpy: ValueError for a
            # read-only array); buffer_error gives wsfast._py's exception.
            pass
    raise buffer_error(obj, name, writable)


cdef int get_key_buffer(object key, unsigned char out[4]) except -1:
    """Copy a 4-byte masking key held by any buffer into ``out``."""
    cdef Py_buffer view
    get_buffer(key, &view, "key", False)
    try:
        if view.len != 4:
            raise key_length_error(view.len)
        memcpy(out, view.buf, 4)
    finally:
        PyBuffer_Release(&view)
    return 0


cdef inline int get_key(object key, unsigned char out[4]) except -1:
    """Copy a 4-byte masking key into ``out`` (RFC 6455 §5.3).

    Inline for the usual ``bytes`` key: no buffer request, no call.
    """
    if type(key) is bytes and PyBytes_GET_SIZE(key) == 4:
        memcpy(out, PyBytes_AS_STRING(key), 4)
        return 0
    return get_key_buffer(key, out)


cdef Py_ssize_t key_phase(object offset) except -1:
    """``offset % 4`` with Python semantics, without Python arithmetic for a plain int."""
    cdef int overflow = 0
    cdef long value
    if type(offset) is int:
        value = PyLong_AsLongAndOverflow(offset, &overflow)
        if not overflow:
            # Two's complement & 3 equals Python's % 4, negatives included.
            return value & 3
    return PyNumber_Index(offset) % 4


cdef inline void run_mask(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
                          const unsigned char key[4]) noexcept:
    """Mask with the selected kernel, without the GIL for large buffers."""
    if n >= GIL_RELEASE_THRESHOLD:
        with nogil:
            wsfast_mask(dst, src, <size_t>n, key)
    else:
        wsfast_mask(dst, src, <size_t>n, key)


cdef inline void run_copy(unsigned char *dst, const unsigned char *src, Py_ssize_t n) noexcept:
    """Copy a payload (wsfast_copy), without the GIL for large buffers."""
    if n >= GIL_RELEASE_THRESHOLD:
        with nogil:
            wsfast_copy(dst, src, <size_t>n)
    else:
        wsfast_copy(dst, src, <size_t>n)


# mask_inplace's results, built once: returning one costs a reference, not
# an int conversion (a measurable part of a call on a short frame).
cdef tuple PHASES = (0, 1, 2, 3)
# offset's default. The identity test skips the int conversion for callers
# that leave it out (or pass the literal 0, the same cached object).
cdef object ZERO = 0


cdef inline Py_ssize_t mask_buffer_inplace(object buffer, const unsigned char key[4],
                                           Py_ssize_t phase) except -1:
    """XOR ``buffer`` in place starting at key ``phase``; return the next phase."""
    cdef unsigned char rotated[4]
    cdef const unsigned char *k = key
    cdef unsigned char *p
    cdef Py_buffer view
    cdef Py_ssize_t n
    if phase:
        wsfast_mask_rotate(key, <size_t>phase, rotated)
        k = rotated
    if type(buffer) is bytearray:
        n = PyByteArray_GET_SIZE(buffer)
        if n < GIL_RELEASE_THRESHOLD:
            # Small bytearray: the GIL stays held, so it cannot be resized
            # under us and no buffer export is needed.
            p = <unsigned char *>PyByteArray_AS_STRING(buffer)
            wsfast_mask(p, p, <size_t>n, k)
            return (phase + n) & 3
    get_buffer(buffer, &view, "buffer", True)
    try:
        run_mask(<unsigned char *>view.buf, <const unsigned char *>view.buf, view.len, k)
        return (phase + view.len) & 3
    finally:
        PyBuffer_Release(&view)


# ---- Masking (RFC 6455 §5.3) ----------------------------------------------------


def mask(data, key):
    """mask(data, key) -> bytes

    Return ``data`` XORed with the 4-byte ``key`` repeated (RFC 6455 §5.3).
    """
    cdef unsigned char k[4]
    cdef Py_buffer view
    cdef Py_ssize_t n
    get_key(key, k)
    # bytes needs no buffer request: it is immutable and held by the caller.
    if type(data) is bytes:
        n = PyBytes_GET_SIZE(data)
        result = PyBytes_FromStringAndSize(NULL, n)
        run_mask(<unsigned char *>PyBytes_AS_STRING(result),
                 <const unsigned char *>PyBytes_AS_STRING(data), n, k)
        return result
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
    cdef Py_ssize_t phase = 0
    get_key(key, k)
    if offset is not ZERO:
        phase = key_phase(offset)
    return PHASES[mask_buffer_inplace(buffer, k, phase)]


def _mask_inplace_keyfirst(key, buffer):
    """_mask_inplace_keyfirst(key, buffer) -> None

    ``mask_inplace(buffer, key)`` in aiohttp's argument order
    (``websocket_mask(mask, data)``), for binding aiohttp's writer to wsfast:
    same checks, same errors, no result.
    """
    cdef unsigned char k[4]
    get_key(key, k)
    mask_buffer_inplace(buffer, k, 0)


cdef class Masker:
    """Masks a payload that arrives in pieces, continuing the key phase.

    One stream's position: use one per thread or serialise the calls
    (overlapping calls are memory-safe but may continue from the wrong phase).
    """

    cdef unsigned char keys[4][4]
    cdef Py_ssize_t _offset

    def __init__(self, key):
        cdef unsigned char k[4]
        get_key(key, k)
        for phase in range(4):
            wsfast_mask_rotate(k, <size_t>phase, self.keys[phase])
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
# RFC 6455 §5.6 and §8.1: text payloads and close reasons must be valid UTF-8.
# The kernels (csrc/utf8_*.c) are resumable and fail-fast; this glue holds the
# buffer, releases the GIL for large inputs and keeps the validator's counters.


cdef inline void run_utf8(uint32_t *state, const unsigned char *data, Py_ssize_t n,
                          size_t *index) noexcept:
    """Validate with the selected kernel, without the GIL for large buffers."""
    if n >= GIL_RELEASE_THRESHOLD:
        with nogil:
            index[0] = wsfast_utf8(state, data, <size_t>n)
    else:
        index[0] = wsfast_utf8(state, data, <size_t>n)


def validate_utf8(data):
    """validate_utf8(data) -> bool

    Whether ``data`` is complete, valid UTF-8 (RFC 3629): no overlong form, no
    surrogate, nothing above U+10FFFF, no truncated sequence at the end.

    Raises:
        TypeError: ``data`` is not a buffer.
        ValueError: ``data`` is not C-contiguous.
    """
    cdef Py_buffer view
    cdef uint32_t state = WSFAST_UTF8_ACCEPT
    cdef size_t index
    # bytes needs no buffer request: it is immutable and held by the caller.
    if type(data) is bytes:
        run_utf8(&state, <const unsigned char *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data),
                 &index)
        return state == WSFAST_UTF8_ACCEPT
    get_buffer(data, &view, "data", False)
    try:
        run_utf8(&state, <const unsigned char *>view.buf, view.len, &index)
    finally:
        PyBuffer_Release(&view)
    return state == WSFAST_UTF8_ACCEPT


cdef class Utf8Validator:
    """Incremental, fail-fast UTF-8 validation of a message that arrives in pieces.

    ``feed`` turns False at the chunk holding the first byte that proves the
    input invalid (``ED A0`` fails at ``A0``) and stays False; a sequence cut
    at a chunk boundary is carried into the next chunk, and only ``finish``
    treats an unfinished sequence as invalid. One stream's state: use one per
    thread or serialise the calls.
    """

    cdef uint32_t _state
    cdef Py_ssize_t _consumed
    cdef Py_ssize_t _error  # absolute offset of the first invalid byte, or -1

    def __cinit__(self):
        self._state = WSFAST_UTF8_ACCEPT
        self._consumed = 0
        self._error = -1

    cdef Py_ssize_t _feed(self, object data) except -1:
        """Validate the next chunk and return its length; an error is recorded
        in ``_error``. After an error the bytes are only counted."""
        cdef Py_buffer view
        cdef bint is_bytes = type(data) is bytes
        cdef const unsigned char *ptr
        cdef Py_ssize_t n
        cdef uint32_t state = self._state
        cdef size_t index
        if is_bytes:
            ptr = <const unsigned char *>PyBytes_AS_STRING(data)
            n = PyBytes_GET_SIZE(data)
        else:
            get_buffer(data, &view, "data", False)
            ptr = <const unsigned char *>view.buf
            n = view.len
        try:
            # A local state: with the GIL released nothing may touch self.
            if self._error < 0 and n > 0:
                run_utf8(&state, ptr, n, &index)
                self._state = state
                if state == WSFAST_UTF8_REJECT:
                    self._error = self._consumed + <Py_ssize_t>index
            self._consumed += n
        finally:
            if not is_bytes:
                PyBuffer_Release(&view)
        return n

    def feed(self, data):
        """Validate the next chunk.

        Returns:
            False as soon as the bytes seen so far cannot start valid UTF-8,
            and from then on; True otherwise.

        Raises:
            TypeError: ``data`` is not a buffer.
            ValueError: ``data`` is not C-contiguous.
        """
        self._feed(data)
        return self._error < 0

    def finish(self):
        """Whether the bytes so far are valid and end at a code point boundary.

        A message that stops inside a sequence is invalid (RFC 3629); this
        only reports it and changes nothing.
        """
        return self._error < 0 and self._state == WSFAST_UTF8_ACCEPT

    def reset(self):
        """Start a new message."""
        self._state = WSFAST_UTF8_ACCEPT
        self._consumed = 0
        self._error = -1

    @property
    def valid(self):
        """No invalid byte seen so far."""
        return self._error < 0

    @property
    def error_offset(self):
        """Absolute offset of the first byte proven invalid, or None."""
        return None if self._error < 0 else self._error

    @property
    def consumed(self):
        """Total bytes fed since the last reset, including any after an error."""
        return self._consumed

    def validate(self, data):
        """The wsaccel / autobahn API: validate the next chunk.

        Returns:
            ``(valid, ends_on_code_point, index_in_this_chunk, total_index)``.
            Valid: ``(True, ends, len(data), consumed)``. At the first error:
            ``(False, False, index of the invalid byte, its absolute offset)``.
            Afterwards, as wsaccel: ``(False, False, 0, offset)``, or
            ``(True, False, 0, offset)`` for an empty chunk.

        Raises:
            TypeError: ``data`` is not a buffer.
            ValueError: ``data`` is not C-contiguous.
        """
        cdef bint failed_before = self._error >= 0
        cdef Py_ssize_t start = self._consumed
        cdef Py_ssize_t n = self._feed(data)
        if self._error < 0:
            return (True, self._state == WSFAST_UTF8_ACCEPT, n, self._consumed)
        if failed_before:
            return (n == 0, False, 0, self._error)
        return (False, False, self._error - start, self._error)


# ---- Codec primitives (RFC 6455 §5.2, §5.3) --------------------------------------
# Called at C level by wsfast._codec_c (see docs/build.md).
# Positions are clamped or checked here, so a Python caller cannot make them
# read outside ``data``. Masking keys travel as integers: key byte i is bits
# 8i..8i+7, the same in both backends.

cdef inline void key_to_bytes(uint32_t key, Py_ssize_t phase, unsigned char out[4]) noexcept:
    """The key bytes as seen from payload byte ``phase`` (wsfast_mask_rotate)."""
    cdef unsigned char k[4]
    k[0] = <unsigned char>key
    k[1] = <unsigned char>(key >> 8)
    k[2] = <unsigned char>(key >> 16)
    k[3] = <unsigned char>(key >> 24)
    wsfast_mask_rotate(k, <size_t>phase, out)


cpdef (int, unsigned int, uint64_t, uint32_t) _frame_parse(
        object data, Py_ssize_t pos, Py_ssize_t end, unsigned int allowed_rsv, bint masked,
        uint64_t max_length) noexcept:
    """_frame_parse(data, pos, end, allowed_rsv, masked, max_length) -> (status, first, length, key)

    Parse the frame header at ``data[pos:end]``; ``data`` is bytes or a
    bytearray (the integrations' receive buffers), anything else reads as
    empty. ``status`` is the header size, 0 when more bytes are needed, or a
    negative WSFAST_FRAME_E_* code.
    """
    cdef wsfast_frame_header h
    cdef wsfast_frame_rules rules
    cdef const unsigned char *base
    cdef Py_ssize_t size
    if type(data) is bytes:
        base = <const unsigned char *>PyBytes_AS_STRING(data)
        size = PyBytes_GET_SIZE(data)
    elif type(data) is bytearray:
        base = <const unsigned char *>PyByteArray_AS_STRING(data)
        size = PyByteArray_GET_SIZE(data)
    else:
        return (0, 0, 0, 0)
    if end > size:
        end = size
    if pos < 0:
        pos = 0
    if pos >= end:
        return (0, 0, 0, 0)
    rules.allowed_rsv = allowed_rsv
    rules.masked = masked
    rules.max_length = max_length
    cdef int status = wsfast_frame_header_parse(
        &h, base + pos, <size_t>(end - pos), &rules)
    if status <= 0:
        return (status, 0, 0, 0)
    return (status, h.first, h.length,
            <uint32_t>h.mask_key[0] | (<uint32_t>h.mask_key[1] << 8)
            | (<uint32_t>h.mask_key[2] << 16) | (<uint32_t>h.mask_key[3] << 24))


cdef inline int check_range(bytes data, Py_ssize_t pos, Py_ssize_t n) except -1:
    if data is None:
        raise TypeError("data must be bytes, not None")
    if pos < 0 or n < 0 or n > PyBytes_GET_SIZE(data) - pos:
        raise ValueError("payload range outside data")
    return 0


cdef inline void unmask_copy(unsigned char *dst, const unsigned char *src, Py_ssize_t n,
                             uint32_t key, Py_ssize_t phase) noexcept:
    """Copy n bytes, unmasking with the key at ``phase`` (key 0 is a plain copy)."""
    cdef unsigned char k[4]
    if key == 0:
        run_copy(dst, src, n)
    else:
        key_to_bytes(key, phase, k)
        run_mask(dst, src, n, k)


cpdef bytes _frame_unmask(bytes data, Py_ssize_t pos, Py_ssize_t n, uint32_t key):
    """_frame_unmask(data, pos, n, key) -> bytes

    ``data[pos:pos + n]`` unmasked with ``key``, copied out in one pass.
    """
    check_range(data, pos, n)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    unmask_copy(<unsigned char *>PyBytes_AS_STRING(out),
                <const unsigned char *>PyBytes_AS_STRING(data) + pos, n, key, 0)
    return out


cpdef uint32_t _utf8_feed(uint32_t state, bytes data, Py_ssize_t pos, Py_ssize_t end) noexcept:
    """_utf8_feed(state, data, pos, end) -> state

    Continue UTF-8 validation over ``data[pos:end]``: 0 (WSFAST_UTF8_ACCEPT)
    at a code point boundary, 1 (WSFAST_UTF8_REJECT) once a byte is invalid,
    anything else in the middle of a code point.
    """
    cdef Py_ssize_t size = 0 if data is None else PyBytes_GET_SIZE(data)
    if end > size:
        end = size
    if pos < 0:
        pos = 0
    if pos < end and state != WSFAST_UTF8_REJECT:
        wsfast_utf8(&state, <const unsigned char *>PyBytes_AS_STRING(data) + pos,
                    <size_t>(end - pos))
    return state


cpdef bytes _frame_header(object first, object length, object key):
    """_frame_header(first, length, key) -> bytes

    A frame header: byte ``first``, the shortest encoding of ``length``, then
    ``key`` (4 bytes) with the mask bit set, or no key (None).
    """
    # Integers only (a C integer argument would take a float's int()), then
    # unsigned 32 and 64 bits: OverflowError beyond.
    cdef unsigned int first_byte = PyNumber_Index(first)
    cdef uint64_t n = PyNumber_Index(length)
    cdef unsigned char k[4]
    cdef unsigned char header[14]
    cdef const unsigned char *key_ptr = NULL
    if key is not None:
        get_key(key, k)
        key_ptr = k
    cdef size_t size = wsfast_frame_header_build(header, first_byte & 0xFF, n, key_ptr)
    return PyBytes_FromStringAndSize(<char *>header, <Py_ssize_t>size)


cpdef bytes _frame_build(unsigned int first, object payload, object key):
    """_frame_build(first, payload, key) -> bytes

    One frame: header byte ``first``, the shortest length encoding, and the
    payload masked with ``key`` (4 bytes) or unmasked (None), written into
    one new buffer.
    """
    cdef Py_buffer view
    cdef unsigned char k[4]
    cdef unsigned char header[14]
    cdef const unsigned char *key_ptr = NULL
    cdef size_t header_size
    cdef bytes out
    cdef unsigned char *dst
    get_buffer(payload, &view, "payload", False)
    try:
        if key is not None:
            get_key(key, k)
            key_ptr = k
        header_size = wsfast_frame_header_build(header, first & 0xFF, <uint64_t>view.len, key_ptr)
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>header_size + view.len)
        dst = <unsigned char *>PyBytes_AS_STRING(out)
        memcpy(dst, header, header_size)
        if key_ptr == NULL:
            run_copy(dst + header_size, <const unsigned char *>view.buf, view.len)
        else:
            run_mask(dst + header_size, <const unsigned char *>view.buf, view.len, k)
    finally:
        PyBuffer_Release(&view)
    return out


cdef extern from *:
    """
    /* tuple.__new__(cls, (a, b, c)) without the call machinery: what CPython's
       tuple_subtype_new does for a tuple subclass. */
    static PyObject *wsfast_tuple3(PyObject *cls, PyObject *a, PyObject *b, PyObject *c) {
        PyTypeObject *type = (PyTypeObject *)cls;
        PyObject *out;
        if (!PyType_Check(cls)) {  /* the messages are tuple.__new__'s */
            PyErr_Format(PyExc_TypeError, "tuple.__new__(X): X is not a type object (%s)",
                         Py_TYPE(cls)->tp_name);
            return NULL;
        }
        if (!PyType_IsSubtype(type, &PyTuple_Type)) {
            PyErr_Format(PyExc_TypeError, "tuple.__new__(%s): %s is not a subtype of tuple",
                         type->tp_name, type->tp_name);
            return NULL;
        }
        out = type->tp_alloc(type, 3);
        if (out == NULL)
            return NULL;
        Py_INCREF(a);
        PyTuple_SET_ITEM(out, 0, a);
        Py_INCREF(b);
        PyTuple_SET_ITEM(out, 1, b);
        Py_INCREF(c);
        PyTuple_SET_ITEM(out, 2, c);
        return out;
    }
    """
    object wsfast_tuple3(object cls, object a, object b, object c)


cpdef object _tuple3(object cls, object a, object b, object c):
    """_tuple3(cls, a, b, c) -> cls instance

    ``tuple.__new__(cls, (a, b, c))`` for a tuple subclass ``cls`` (a named
    tuple: no ``__new__`` or ``__init__`` of its own runs), built in C.
    """
    return wsfast_tuple3(cls, a, b, c)


# Growth of a _Payload. A frame's buffer doubles (its declared size caps it,
# so it never holds more than twice what arrived); a message's buffer grows by
# a quarter, so a message of size L peaks at about 1.25 L. Either way each
# byte is moved O(1) times on average, even when fed one byte at a time.
cdef Py_ssize_t PAYLOAD_MIN_CAPACITY = 4096


cdef extern from "Python.h":
    # Resizes a bytes object held by one reference only (here: the
    # _Payload's); on failure frees it, sets *obj to NULL, raises MemoryError.
    int _PyBytes_Resize(PyObject **obj, Py_ssize_t size) except -1
    char *raw_bytes_data "PyBytes_AS_STRING"(PyObject *obj) noexcept


cdef class _Payload:
    """A frame payload, or a message, that arrives over several feed() calls.

    A bytes object that grows with the bytes written (never beyond ``size``),
    filled in place by write() (unmasking while copying, the key phase
    following the fill), and handed out by finish() without a further copy.
    Nobody else sees the bytes object until finish(): it is held as a raw
    owned reference, so that _PyBytes_Resize may move it.

    ``exact``: the payload is exactly ``size`` bytes (a frame, whose header
    declared it); otherwise ``size`` is only a limit and finish() hands out
    what was written (a message being reassembled).
    """

    def __cinit__(self):
        self._buf = NULL

    def __init__(self, Py_ssize_t size, bint exact=True):
        if size < 0:
            raise ValueError("size must be >= 0")
        self._size = size
        self._exact = exact
        self._fill = 0
        self._last = 0
        self._capacity = 0
        self._done = False

    def __dealloc__(self):
        Py_XDECREF(self._buf)
        self._buf = NULL

    cdef int reserve(self, Py_ssize_t need) except -1:
        """Make room for ``need`` bytes in all (need <= _size)."""
        cdef Py_ssize_t capacity = self._capacity
        cdef Py_ssize_t step = capacity if self._exact else capacity >> 2
        if capacity > self._size - step:
            capacity = self._size
        else:
            capacity += step
        if capacity < need:
            capacity = need
        if capacity < PAYLOAD_MIN_CAPACITY:
            capacity = PAYLOAD_MIN_CAPACITY if self._size > PAYLOAD_MIN_CAPACITY else self._size
        cdef object fresh
        if self._buf == NULL:
            fresh = PyBytes_FromStringAndSize(NULL, capacity)
            Py_INCREF(fresh)
            self._buf = <PyObject *>fresh
        else:
            self._capacity = 0  # stale if the resize fails and frees the buffer
            _PyBytes_Resize(&self._buf, capacity)
        self._capacity = capacity
        return 0

    cpdef int write(self, bytes data, Py_ssize_t pos, Py_ssize_t n, uint32_t key) except -1:
        """Append ``data[pos:pos + n]``, unmasked with ``key``."""
        check_range(data, pos, n)
        if self._done:
            raise ValueError("payload already finished")
        if self._buf == NULL and self._fill:
            raise MemoryError("payload buffer lost to a failed allocation")
        if n > self._size - self._fill:
            raise ValueError("more bytes than the payload holds")
        if n == 0:
            return 0
        if self._fill + n > self._capacity:
            self.reserve(self._fill + n)
        unmask_copy(<unsigned char *>raw_bytes_data(self._buf) + self._fill,
                    <const unsigned char *>PyBytes_AS_STRING(data) + pos, n, key, self._fill & 3)
        self._fill += n
        return 0

    cpdef uint32_t utf8(self, uint32_t state) noexcept:
        """Continue UTF-8 validation (as _utf8_feed) over the bytes written since the last call."""
        if self._buf != NULL and self._last < self._fill and state != WSFAST_UTF8_REJECT:
            wsfast_utf8(&state,
                        <const unsigned char *>raw_bytes_data(self._buf) + self._last,
                        <size_t>(self._fill - self._last))
        self._last = self._fill
        return state

    cpdef bytes finish(self):
        """The complete payload; the object accepts no more writes."""
        cdef PyObject *buf
        if self._done or (self._exact and self._fill != self._size):
            raise ValueError("payload is not complete")
        if self._buf == NULL:
            if self._fill:
                raise MemoryError("payload buffer lost to a failed allocation")
            self._done = True
            return b""
        if self._capacity != self._fill:
            self._capacity = 0
            _PyBytes_Resize(&self._buf, self._fill)  # shrinks in place
            self._capacity = self._fill
        self._done = True
        buf = self._buf
        self._buf = NULL
        out = <bytes>buf
        Py_DECREF(out)  # the reference the _Payload held
        return out

    @property
    def capacity(self):
        """Bytes allocated for the payload so far."""
        return self._capacity

    @property
    def size(self):
        """Bytes written so far."""
        return self._fill


cpdef _Payload _new_payload(Py_ssize_t size):
    """_new_payload(size) -> _Payload

    The buffer of a frame payload of ``size`` bytes (a function, so the
    compiled codec can call it at C level).
    """
    return _Payload(size)


cpdef _Payload _new_buffer(Py_ssize_t limit):
    """_new_buffer(limit) -> _Payload

    A message being reassembled: at most ``limit`` bytes, any number of them.
    """
    return _Payload(limit, False)


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
