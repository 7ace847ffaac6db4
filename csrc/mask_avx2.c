/* AVX2 masking kernel: 128 bytes per iteration in four 32-byte registers.
 * Compiled with a target attribute and called only after cpu.c has seen
 * AVX2 and OS support for YMM state. */
#include "compat.h"
#include "wsfast.h"

#if defined(WSFAST_HAVE_X86_KERNELS)
#include <immintrin.h>

WSFAST_TARGET_AVX2
void wsfast_mask_avx2(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]) {
    const __m256i k = _mm256_set1_epi32((int)wsfast_load32(key));
    size_t i = 0;

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
    if (i + 16 <= len) {
        const __m128i k128 = _mm256_castsi256_si128(k);
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k128));
        i += 16;
    }
    /* Fewer than 16 bytes left, starting at key phase 0. */
    wsfast_mask_scalar(dst + i, src + i, len - i, key);
}
#endif
