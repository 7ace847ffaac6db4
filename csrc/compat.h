/* Compiler and architecture helpers shared by every kernel file.
 *
 * Everything is compiled for the baseline CPU; ISA-specific functions carry
 * a target attribute (WSFAST_TARGET_*) and are only called after run-time
 * detection in dispatch.c, so the extension never needs -march flags. */
#ifndef WSFAST_COMPAT_H
#define WSFAST_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#define WSFAST_X86_64 1
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define WSFAST_AARCH64 1
#endif

#if defined(__GNUC__) || defined(__clang__)
#define WSFAST_LIKELY(x) __builtin_expect(!!(x), 1)
#define WSFAST_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WSFAST_TARGET(isa) __attribute__((target(isa)))
#else
#define WSFAST_LIKELY(x) (x)
#define WSFAST_UNLIKELY(x) (x)
#define WSFAST_TARGET(isa)
#endif

/* GCC/Clang on x86-64 can compile AVX2/SSSE3 code in target regions; MSVC
 * compiles intrinsics without attributes. */
#if defined(WSFAST_X86_64) && (defined(__GNUC__) || defined(__clang__) || defined(_MSC_VER))
#define WSFAST_HAVE_X86_KERNELS 1
#define WSFAST_TARGET_SSE2 WSFAST_TARGET("sse2")
#define WSFAST_TARGET_SSSE3 WSFAST_TARGET("ssse3")
#define WSFAST_TARGET_SSE41 WSFAST_TARGET("sse4.1")
#define WSFAST_TARGET_AVX2 WSFAST_TARGET("avx2")
#endif

/* NEON is part of the aarch64 baseline: no attribute needed. */
#if defined(WSFAST_AARCH64)
#define WSFAST_HAVE_NEON_KERNELS 1
#endif

/* Unaligned loads and stores through memcpy: compilers turn these into
 * single moves, and unlike pointer casts they are defined behaviour. */
static inline uint64_t wsfast_load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void wsfast_store64(unsigned char *p, uint64_t v) {
    memcpy(p, &v, sizeof v);
}

static inline uint32_t wsfast_load32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void wsfast_store32(unsigned char *p, uint32_t v) {
    memcpy(p, &v, sizeof v);
}

#endif /* WSFAST_COMPAT_H */
