/* UTF-8 validation, AVX2: the Keiser-Lemire lookup check (utf8_lookup.h)
 * on 64 bytes per iteration, with an all-ASCII fast path. The outer logic
 * (resuming a chunk, exact error offsets, the tail) is utf8_internal.h's
 * driver; this file only checks whole blocks. */
#include "compat.h"
#include "wsfast.h"
#include "utf8_internal.h"

#if defined(WSFAST_HAVE_X86_KERNELS)
#include <immintrin.h>

#include "utf8_lookup.h"

typedef struct {
    __m256i byte1_high, byte1_low, byte2_high, nibble, third_sub, fourth_sub, bit7, incomplete;
} avx2_consts;

/* Both 128-bit lanes hold the same 16-entry table: vpshufb looks up within
 * each lane. */
static inline WSFAST_TARGET_AVX2 __m256i avx2_table(const uint8_t table[16]) {
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)table));
}

static inline WSFAST_TARGET_AVX2 avx2_consts avx2_make_consts(void) {
    avx2_consts c;
    c.byte1_high = avx2_table(wsfast_utf8_byte1_high);
    c.byte1_low = avx2_table(wsfast_utf8_byte1_low);
    c.byte2_high = avx2_table(wsfast_utf8_byte2_high);
    c.nibble = _mm256_set1_epi8(0x0F);
    c.third_sub = _mm256_set1_epi8(WSFAST_U8_THIRD_SUB);
    c.fourth_sub = _mm256_set1_epi8(WSFAST_U8_FOURTH_SUB);
    c.bit7 = _mm256_set1_epi8((char)0x80);
    /* A vector's last three bytes leave a sequence open when they exceed
     * these (a lead of 2+, 3+, 4 bytes in the last, second-last, third-last
     * position); saturating_sub against them is non-zero exactly then. */
    c.incomplete = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                    (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
    return c;
}

/* Non-zero bytes where cur, given the three bytes before it, is invalid. */
static inline WSFAST_TARGET_AVX2 __m256i avx2_check(const avx2_consts *c, __m256i cur,
                                                     __m256i prev1, __m256i prev2,
                                                     __m256i prev3) {
    /* There is no 8-bit shift; a 16-bit shift plus the nibble mask is
     * the same thing. */
    __m256i b1h = _mm256_shuffle_epi8(c->byte1_high,
                                      _mm256_and_si256(_mm256_srli_epi16(prev1, 4), c->nibble));
    __m256i b1l = _mm256_shuffle_epi8(c->byte1_low, _mm256_and_si256(prev1, c->nibble));
    __m256i b2h = _mm256_shuffle_epi8(c->byte2_high,
                                      _mm256_and_si256(_mm256_srli_epi16(cur, 4), c->nibble));
    __m256i special = _mm256_and_si256(_mm256_and_si256(b1h, b1l), b2h);
    __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(prev2, c->third_sub),
                                     _mm256_subs_epu8(prev3, c->fourth_sub));
    return _mm256_xor_si256(_mm256_and_si256(must23, c->bit7), special);
}

/* Check the 32 bytes at data + i. The bytes before them are read straight
 * from memory (three overlapping loads are cheaper than shuffling them
 * across lanes); at i == 0 there are none, and since the data starts at a
 * code point boundary they count as ASCII (zero). */
static inline WSFAST_TARGET_AVX2 __m256i avx2_check_at(const avx2_consts *c,
                                                        const unsigned char *data, size_t i,
                                                        __m256i cur) {
    if (WSFAST_LIKELY(i != 0))
        return avx2_check(c, cur, _mm256_loadu_si256((const __m256i *)(const void *)(data + i - 1)),
                          _mm256_loadu_si256((const __m256i *)(const void *)(data + i - 2)),
                          _mm256_loadu_si256((const __m256i *)(const void *)(data + i - 3)));
    /* [zero.hi, cur.lo], so that alignr shifts zeros into lane 0 and cur's
     * lane 0 into lane 1. */
    __m256i carry = _mm256_permute2x128_si256(_mm256_setzero_si256(), cur, 0x21);
    return avx2_check(c, cur, _mm256_alignr_epi8(cur, carry, 15),
                      _mm256_alignr_epi8(cur, carry, 14), _mm256_alignr_epi8(cur, carry, 13));
}

static inline WSFAST_TARGET_AVX2 int avx2_any(__m256i v) {
    return !_mm256_testz_si256(v, v);
}

static WSFAST_TARGET_AVX2 size_t avx2_scan(const unsigned char *data, size_t len) {
    const avx2_consts c = avx2_make_consts();
    /* Non-zero when the last checked vector ended inside a sequence: an
     * all-ASCII block cannot then follow. */
    __m256i open = _mm256_setzero_si256();
    size_t i = 0;

    for (; len - i >= 64; i += 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(data + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(data + i + 32));
        if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
            if (avx2_any(open))
                return i;
            continue;
        }
        __m256i err = _mm256_or_si256(avx2_check_at(&c, data, i, a),
                                      avx2_check_at(&c, data, i + 32, b));
        if (avx2_any(err))
            return i;
        open = _mm256_subs_epu8(b, c.incomplete);
    }
    if (len - i >= 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(data + i));
        if (_mm256_movemask_epi8(a) == 0) {
            if (avx2_any(open))
                return i;
        } else if (avx2_any(avx2_check_at(&c, data, i, a))) {
            return i;
        }
        i += 32;
    }
    return i;
}

WSFAST_TARGET_AVX2 size_t wsfast_utf8_avx2(uint32_t *state, const unsigned char *data, size_t len) {
    return wsfast_utf8_drive(state, data, len, avx2_scan);
}

#else /* no x86 kernels: keep the symbol so every build links the same */

size_t wsfast_utf8_avx2(uint32_t *state, const unsigned char *data, size_t len) {
    return wsfast_utf8_scalar(state, data, len);
}

#endif
