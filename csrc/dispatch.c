/* Kernel tables and the one run-time choice of kernels.
 *
 * Each family lists its kernels best first with the level each needs; the
 * selected level picks, per family, the first kernel not above it. Tables
 * hold only kernels compiled for this architecture. */
#include "compat.h"
#include "wsfast.h"

#ifndef WSFAST_CFLAGS
#define WSFAST_CFLAGS "unknown"
#endif

static const char *const level_names[WSFAST_LEVEL_COUNT] = {
    "scalar", "sse2", "ssse3", "avx2", "neon",
};

static const unsigned level_cpu_bits[WSFAST_LEVEL_COUNT] = {
    0,
    WSFAST_CPU_SSE2,
    WSFAST_CPU_SSE2 | WSFAST_CPU_SSSE3,
    WSFAST_CPU_SSE2 | WSFAST_CPU_SSSE3 | WSFAST_CPU_AVX2,
    WSFAST_CPU_NEON,
};

typedef struct {
    const char *name;
    int level;
    wsfast_mask_fn fn;
} mask_entry;

typedef struct {
    const char *name;
    int level;
    wsfast_utf8_fn fn;
} utf8_entry;

static const mask_entry mask_kernels[] = {
#if defined(WSFAST_HAVE_X86_KERNELS)
    {"avx2", WSFAST_LEVEL_AVX2, wsfast_mask_avx2},
    {"sse2", WSFAST_LEVEL_SSE2, wsfast_mask_sse2},
#endif
#if defined(WSFAST_HAVE_NEON_KERNELS)
    {"neon", WSFAST_LEVEL_NEON, wsfast_mask_neon},
#endif
    {"scalar", WSFAST_LEVEL_SCALAR, wsfast_mask_scalar},
};

static const utf8_entry utf8_kernels[] = {
#if defined(WSFAST_HAVE_X86_KERNELS)
    {"avx2", WSFAST_LEVEL_AVX2, wsfast_utf8_avx2},
    {"ssse3", WSFAST_LEVEL_SSSE3, wsfast_utf8_ssse3},
#endif
#if defined(WSFAST_HAVE_NEON_KERNELS)
    {"neon", WSFAST_LEVEL_NEON, wsfast_utf8_neon},
#endif
    {"scalar", WSFAST_LEVEL_SCALAR, wsfast_utf8_scalar},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Scalar until wsfast_select_level runs (at module import). */
wsfast_mask_fn wsfast_mask = wsfast_mask_scalar;
wsfast_utf8_fn wsfast_utf8 = wsfast_utf8_scalar;
static const char *mask_name = "scalar";
static const char *utf8_name = "scalar";
static int current_level = WSFAST_LEVEL_SCALAR;
/* Whether wsfast_copy uses the mask kernel (AVX2 selected: every CPU with
 * FSRM has it, and below AVX2 the kernels are slower than memcpy). */
static int copy_by_kernel = 0;

const char *wsfast_level_name(int level) {
    if (level < 0 || level >= WSFAST_LEVEL_COUNT) return NULL;
    return level_names[level];
}

int wsfast_level_from_name(const char *name) {
    for (int i = 0; i < WSFAST_LEVEL_COUNT; i++) {
        if (strcmp(name, level_names[i]) == 0) return i;
    }
    return -1;
}

/* A level is usable when the CPU has its features and this build has at
 * least one kernel for it (no NEON kernels on x86 and vice versa). */
int wsfast_level_supported(int level) {
    if (level < 0 || level >= WSFAST_LEVEL_COUNT) return 0;
    if ((wsfast_cpu_features() & level_cpu_bits[level]) != level_cpu_bits[level]) return 0;
    if (level == WSFAST_LEVEL_SCALAR) return 1;
    for (size_t i = 0; i < COUNT(mask_kernels); i++) {
        if (mask_kernels[i].level == level) return 1;
    }
    for (size_t i = 0; i < COUNT(utf8_kernels); i++) {
        if (utf8_kernels[i].level == level) return 1;
    }
    return 0;
}

int wsfast_best_level(void) {
    for (int level = WSFAST_LEVEL_COUNT - 1; level > 0; level--) {
        if (wsfast_level_supported(level)) return level;
    }
    return WSFAST_LEVEL_SCALAR;
}

/* NEON and the x86 levels are separate chains: compare levels only within
 * the chain of the selected level (scalar belongs to both). */
static int within(int kernel_level, int selected) {
    if (kernel_level == WSFAST_LEVEL_SCALAR) return 1;
    if (selected == WSFAST_LEVEL_NEON) return kernel_level == WSFAST_LEVEL_NEON;
    return kernel_level != WSFAST_LEVEL_NEON && kernel_level <= selected;
}

int wsfast_select_level(int level) {
    if (!wsfast_level_supported(level)) return -1;
    for (size_t i = 0; i < COUNT(mask_kernels); i++) {
        if (within(mask_kernels[i].level, level)) {
            wsfast_mask = mask_kernels[i].fn;
            mask_name = mask_kernels[i].name;
            break;
        }
    }
    for (size_t i = 0; i < COUNT(utf8_kernels); i++) {
        if (within(utf8_kernels[i].level, level)) {
            wsfast_utf8 = utf8_kernels[i].fn;
            utf8_name = utf8_kernels[i].name;
            break;
        }
    }
#if defined(WSFAST_HAVE_X86_KERNELS)
    copy_by_kernel = wsfast_mask == wsfast_mask_avx2;
#endif
    current_level = level;
    return 0;
}

void wsfast_copy(unsigned char *dst, const unsigned char *src, size_t len) {
    static const unsigned char zero_key[4] = {0, 0, 0, 0};
    if (copy_by_kernel && len >= WSFAST_COPY_KERNEL_MIN && len <= WSFAST_COPY_KERNEL_MAX) {
        wsfast_mask(dst, src, len, zero_key);
    } else if (len) {
        memcpy(dst, src, len);
    }
}

int wsfast_current_level(void) { return current_level; }
const char *wsfast_mask_name(void) { return mask_name; }
const char *wsfast_utf8_name(void) { return utf8_name; }
const char *wsfast_build_flags(void) { return WSFAST_CFLAGS; }

const char *wsfast_compiler(void) {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}
