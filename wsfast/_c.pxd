# C-level declarations of csrc/wsfast.h, for wsfast/_c.pyx and any compiled
# module that cimports the kernels.
from libc.stdint cimport uint32_t


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

    # ---- UTF-8
    uint32_t WSFAST_UTF8_ACCEPT
    uint32_t WSFAST_UTF8_REJECT
    ctypedef size_t (*wsfast_utf8_fn)(uint32_t *state, const unsigned char *data, size_t len)
    wsfast_utf8_fn wsfast_utf8
    const char *wsfast_utf8_name()

    # ---- frame headers (codec section)
