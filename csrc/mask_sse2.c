/* SSE2 masking kernel: 64 bytes per iteration in four 16-byte registers.
 * Every step is a multiple of 4 bytes, so the key phase never changes,
 * except once after the head that aligns the stores. */
#include "compat.h"
#include "mask_internal.h"
#include "wsfast.h"

#if defined(WSFAST_HAVE_X86_KERNELS)
#include <emmintrin.h>

WSFAST_TARGET_SSE2
void wsfast_mask_sse2(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]) {
    unsigned char rotated[4];
    size_t i = 0;

    /* A 16-byte store that crosses a cache line costs two: peel up to 15
     * bytes so that the stores below are aligned (the loads are aligned too
     * when src and dst share their alignment, as in place). */
    if (len >= WSFAST_MASK_ALIGN_MIN) {
        size_t head = (size_t)(-(uintptr_t)dst & 15);
        wsfast_mask_short(dst, src, head, key, wsfast_mask_key64(key));
        wsfast_mask_rotate(key, head, rotated);
        key = rotated;
        i = head;
    }

    const uint64_t key64 = wsfast_mask_key64(key);
    const __m128i k = _mm_set1_epi32((int)wsfast_load32(key));
    for (; i + 64 <= len; i += 64) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 32));
        __m128i d = _mm_loadu_si128((const __m128i *)(const void *)(src + i + 48));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 16), _mm_xor_si128(b, k));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 32), _mm_xor_si128(c, k));
        _mm_storeu_si128((__m128i *)(void *)(dst + i + 48), _mm_xor_si128(d, k));
    }
    for (; i + 16 <= len; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(src + i));
        _mm_storeu_si128((__m128i *)(void *)(dst + i), _mm_xor_si128(a, k));
    }
    /* Fewer than 16 bytes left; the steps since the head kept the phase. */
    wsfast_mask_short(dst + i, src + i, len - i, key, key64);
}
#endif
