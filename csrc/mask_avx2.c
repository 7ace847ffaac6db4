/* AVX2 masking kernel: 128 bytes per iteration in four 32-byte registers.
 * Compiled with a target attribute and called only after cpu.c has seen
 * AVX2 and OS support for YMM state. */
#include "compat.h"
#include "mask_internal.h"
#include "wsfast.h"

#if defined(WSFAST_HAVE_X86_KERNELS)
#include <immintrin.h>

/* Mask len < 32 bytes starting at key phase 0: one 16-byte step, then the
 * shared short tail. */
WSFAST_TARGET_AVX2
static inline void mask_under32(unsigned char *dst, const unsigned char *src, size_t len,
                                const unsigned char key[4], uint64_t key64, __m128i k) {
    if (len & 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)src);
        _mm_storeu_si128((__m128i *)(void *)dst, _mm_xor_si128(a, k));
        dst += 16;
        src += 16;
    }
    wsfast_mask_short(dst, src, len & 15, key, key64);
}

WSFAST_TARGET_AVX2
void wsfast_mask_avx2(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]) {
    unsigned char rotated[4];
    size_t i = 0;

    /* A 32-byte store that crosses a cache line costs two, and buffers from
     * malloc are only 16-byte aligned: peel up to 31 bytes so that the
     * stores below are aligned (the loads are aligned too when src and dst
     * share their alignment, as in place). */
    if (len >= WSFAST_MASK_ALIGN_MIN) {
        size_t head = (size_t)(-(uintptr_t)dst & 31);
        mask_under32(dst, src, head, key, wsfast_mask_key64(key),
                     _mm_set1_epi32((int)wsfast_load32(key)));
        wsfast_mask_rotate(key, head, rotated);
        key = rotated;
        i = head;
    }

    const uint64_t key64 = wsfast_mask_key64(key);
    const __m256i k = _mm256_set1_epi32((int)wsfast_load32(key));
    for (; i + 128 <= len; i += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(const void *)(src + i + 96));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_xor_si256(a, k));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 32), _mm256_xor_si256(b, k));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 64), _mm256_xor_si256(c, k));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i + 96), _mm256_xor_si256(d, k));
    }
    for (; i + 32 <= len; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(src + i));
        _mm256_storeu_si256((__m256i *)(void *)(dst + i), _mm256_xor_si256(a, k));
    }
    /* Fewer than 32 bytes left; the steps since the head kept the phase. */
    mask_under32(dst + i, src + i, len - i, key, key64, _mm256_castsi256_si128(k));
}
#endif
