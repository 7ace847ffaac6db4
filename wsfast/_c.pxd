# C-level declarations of csrc/wsfast.h, for wsfast/_c.pyx and any compiled
# module that cimports the kernels.
from cpython.ref cimport PyObject
from libc.stdint cimport uint32_t, uint64_t


cdef extern from "wsfast.h" nogil:
    # ---- CPU features and dispatch
    unsigned wsfast_cpu_features()
    const char *wsfast_level_name(int level)
    int wsfast_level_from_name(const char *name)
    int wsfast_level_supported(int level)
    int wsfast_best_level()
    int wsfast_select_level(int level)
    int wsfast_current_level()
    const char *wsfast_build_flags()
    const char *wsfast_compiler()
    int WSFAST_LEVEL_COUNT

    # ---- masking
    ctypedef void (*wsfast_mask_fn)(unsigned char *dst, const unsigned char *src, size_t len,
                                    const unsigned char *key)
    wsfast_mask_fn wsfast_mask
    const char *wsfast_mask_name()
    void wsfast_mask_rotate(const unsigned char *key, size_t phase, unsigned char *out)
    void wsfast_copy(unsigned char *dst, const unsigned char *src, size_t len)

    # ---- UTF-8
    uint32_t WSFAST_UTF8_ACCEPT
    uint32_t WSFAST_UTF8_REJECT
    ctypedef size_t (*wsfast_utf8_fn)(uint32_t *state, const unsigned char *data, size_t len)
    wsfast_utf8_fn wsfast_utf8
    const char *wsfast_utf8_name()

    # ---- frame headers
    int WSFAST_FRAME_HEADER_MAX
    ctypedef struct wsfast_frame_rules:
        unsigned allowed_rsv
        int masked
        uint64_t max_length
    ctypedef struct wsfast_frame_header:
        uint64_t length
        unsigned char mask_key[4]
        unsigned first
        unsigned masked
        unsigned size
    int wsfast_frame_header_parse(wsfast_frame_header *h, const unsigned char *data, size_t len,
                                  const wsfast_frame_rules *rules)
    size_t wsfast_frame_header_build(unsigned char *out, unsigned first, uint64_t length,
                                     const unsigned char *mask_key)


# ---- codec primitives ------------------------------------------------------------
# cpdef: wsfast._codec_c calls them at C level (see docs/build.md), tests call
# them from Python next to their twins in wsfast._py.

cpdef (int, unsigned int, uint64_t, uint32_t) _frame_parse(
    object data, Py_ssize_t pos, Py_ssize_t end, unsigned int allowed_rsv, bint masked,
    uint64_t max_length) noexcept
cpdef bytes _frame_unmask(bytes data, Py_ssize_t pos, Py_ssize_t n, uint32_t key)
cpdef uint32_t _utf8_feed(uint32_t state, bytes data, Py_ssize_t pos, Py_ssize_t end) noexcept
cpdef bytes _frame_header(object first, object length, object key)
cpdef bytes _frame_build(unsigned int first, object payload, object key)
cpdef object _tuple3(object cls, object a, object b, object c)


cdef class _Payload:
    cdef PyObject *_buf  # an owned reference to a bytes object, or NULL
    cdef Py_ssize_t _size
    cdef Py_ssize_t _capacity
    cdef Py_ssize_t _fill
    cdef Py_ssize_t _last
    cdef bint _exact
    cdef bint _done
    cdef int reserve(self, Py_ssize_t need) except -1
    cpdef int write(self, bytes data, Py_ssize_t pos, Py_ssize_t n, uint32_t key) except -1
    cpdef uint32_t utf8(self, uint32_t state) noexcept
    cpdef bytes finish(self)


cpdef _Payload _new_payload(Py_ssize_t size)
cpdef _Payload _new_buffer(Py_ssize_t limit)
