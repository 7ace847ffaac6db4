/* UTF-8 validation, SSSE3: the Keiser-Lemire lookup check (utf8_lookup.h)
 * on 64 bytes per iteration, with an all-ASCII fast path. pshufb is the
 * SSSE3 instruction the lookups need; nothing newer is used, so the kernel
 * runs on every CPU of the "ssse3" level. The outer logic lives in
 * utf8_internal.h's driver; this file only checks whole blocks. */
#include "compat.h"
#include "wsfast.h"
#include "utf8_internal.h"

#if defined(WSFAST_HAVE_X86_KERNELS)
#include <tmmintrin.h>

#include "utf8_lookup.h"

typedef struct {
    __m128i byte1_high, byte1_low, byte2_high, nibble, third_sub, fourth_sub, bit7, incomplete;
} ssse3_consts;

static inline WSFAST_TARGET_SSSE3 __m128i ssse3_load(const unsigned char *p) {
    return _mm_loadu_si128((const __m128i *)(const void *)p);
}

static inline WSFAST_TARGET_SSSE3 ssse3_consts ssse3_make_consts(void) {
    ssse3_consts c;
    c.byte1_high = ssse3_load(wsfast_utf8_byte1_high);
    c.byte1_low = ssse3_load(wsfast_utf8_byte1_low);
    c.byte2_high = ssse3_load(wsfast_utf8_byte2_high);
    c.nibble = _mm_set1_epi8(0x0F);
    c.third_sub = _mm_set1_epi8(WSFAST_U8_THIRD_SUB);
    c.fourth_sub = _mm_set1_epi8(WSFAST_U8_FOURTH_SUB);
    c.bit7 = _mm_set1_epi8((char)0x80);
    /* A vector's last three bytes leave a sequence open when they exceed
     * these (a lead of 2+, 3+, 4 bytes in the last, second-last, third-last
     * position); saturating_sub against them is non-zero exactly then. */
    c.incomplete = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                 (char)(0xF0 - 1), (char)(0xE0 - 1), (char)(0xC0 - 1));
    return c;
}

/* Non-zero bytes where cur, given the three bytes before it, is invalid. */
static inline WSFAST_TARGET_SSSE3 __m128i ssse3_check(const ssse3_consts *c, __m128i cur,
                                                       __m128i prev1, __m128i prev2,
                                                       __m128i prev3) {
    /* There is no 8-bit shift; a 16-bit shift plus the nibble mask is
     * the same thing. */
    __m128i b1h =
        _mm_shuffle_epi8(c->byte1_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), c->nibble));
    __m128i b1l = _mm_shuffle_epi8(c->byte1_low, _mm_and_si128(prev1, c->nibble));
    __m128i b2h =
        _mm_shuffle_epi8(c->byte2_high, _mm_and_si128(_mm_srli_epi16(cur, 4), c->nibble));
    __m128i special = _mm_and_si128(_mm_and_si128(b1h, b1l), b2h);
    __m128i must23 =
        _mm_or_si128(_mm_subs_epu8(prev2, c->third_sub), _mm_subs_epu8(prev3, c->fourth_sub));
    return _mm_xor_si128(_mm_and_si128(must23, c->bit7), special);
}

/* Check the 16 bytes at data + i, reading the bytes before them straight
 * from memory; at i == 0 there are none, and since the data starts at a
 * code point boundary they count as ASCII (zero). */
static inline WSFAST_TARGET_SSSE3 __m128i ssse3_check_at(const ssse3_consts *c,
                                                          const unsigned char *data, size_t i,
                                                          __m128i cur) {
    if (WSFAST_LIKELY(i != 0))
        return ssse3_check(c, cur, ssse3_load(data + i - 1), ssse3_load(data + i - 2),
                           ssse3_load(data + i - 3));
    __m128i zero = _mm_setzero_si128();
    return ssse3_check(c, cur, _mm_alignr_epi8(cur, zero, 15), _mm_alignr_epi8(cur, zero, 14),
                       _mm_alignr_epi8(cur, zero, 13));
}

/* SSE4.1's ptest is not part of the level, so test with a compare. */
static inline WSFAST_TARGET_SSSE3 int ssse3_any(__m128i v) {
    return _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128())) != 0xFFFF;
}

static WSFAST_TARGET_SSSE3 size_t ssse3_scan(const unsigned char *data, size_t len) {
    const ssse3_consts c = ssse3_make_consts();
    /* Non-zero when the last checked vector ended inside a sequence: an
     * all-ASCII block cannot then follow. */
    __m128i open = _mm_setzero_si128();
    size_t i = 0;

    for (; len - i >= 64; i += 64) {
        __m128i v0 = ssse3_load(data + i), v1 = ssse3_load(data + i + 16);
        __m128i v2 = ssse3_load(data + i + 32), v3 = ssse3_load(data + i + 48);
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3))) == 0) {
            if (ssse3_any(open))
                return i;
            continue;
        }
        __m128i err = _mm_or_si128(
            _mm_or_si128(ssse3_check_at(&c, data, i, v0), ssse3_check_at(&c, data, i + 16, v1)),
            _mm_or_si128(ssse3_check_at(&c, data, i + 32, v2),
                         ssse3_check_at(&c, data, i + 48, v3)));
        if (ssse3_any(err))
            return i;
        open = _mm_subs_epu8(v3, c.incomplete);
    }
    for (; len - i >= 16; i += 16) {
        __m128i v = ssse3_load(data + i);
        if (_mm_movemask_epi8(v) == 0) {
            if (ssse3_any(open))
                return i;
        } else {
            if (ssse3_any(ssse3_check_at(&c, data, i, v)))
                return i;
            open = _mm_subs_epu8(v, c.incomplete);
        }
    }
    return i;
}

WSFAST_TARGET_SSSE3 size_t wsfast_utf8_ssse3(uint32_t *state, const unsigned char *data,
                                             size_t len) {
    return wsfast_utf8_drive(state, data, len, ssse3_scan);
}

#else /* no x86 kernels: keep the symbol so every build links the same */

size_t wsfast_utf8_ssse3(uint32_t *state, const unsigned char *data, size_t len) {
    return wsfast_utf8_scalar(state, data, len);
}

#endif
