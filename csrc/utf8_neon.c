/* UTF-8 validation, NEON (aarch64 baseline): the Keiser-Lemire lookup check
 * (utf8_lookup.h) on 64 bytes per iteration, with an all-ASCII fast path.
 * tbl does the 16-entry lookups and a true 8-bit shift exists, so no nibble
 * masks are needed for the high nibbles. The outer logic lives in
 * utf8_internal.h's driver; this file only checks whole blocks. */
#include "compat.h"
#include "wsfast.h"
#include "utf8_internal.h"

#if defined(WSFAST_HAVE_NEON_KERNELS)
#include <arm_neon.h>

#include "utf8_lookup.h"

typedef struct {
    uint8x16_t byte1_high, byte1_low, byte2_high, nibble, third_sub, fourth_sub, bit7, incomplete;
} neon_consts;

/* A vector's last three bytes leave a sequence open when they exceed these
 * (a lead of 2+, 3+, 4 bytes in the last, second-last, third-last position);
 * saturating_sub against them is non-zero exactly then. */
static const uint8_t neon_incomplete[16] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xF0 - 1, 0xE0 - 1, 0xC0 - 1,
};

static inline neon_consts neon_make_consts(void) {
    neon_consts c;
    c.byte1_high = vld1q_u8(wsfast_utf8_byte1_high);
    c.byte1_low = vld1q_u8(wsfast_utf8_byte1_low);
    c.byte2_high = vld1q_u8(wsfast_utf8_byte2_high);
    c.nibble = vdupq_n_u8(0x0F);
    c.third_sub = vdupq_n_u8(WSFAST_U8_THIRD_SUB);
    c.fourth_sub = vdupq_n_u8(WSFAST_U8_FOURTH_SUB);
    c.bit7 = vdupq_n_u8(0x80);
    c.incomplete = vld1q_u8(neon_incomplete);
    return c;
}

/* Non-zero bytes where cur, given the three bytes before it, is invalid. */
static inline uint8x16_t neon_check(const neon_consts *c, uint8x16_t cur, uint8x16_t prev1,
                                    uint8x16_t prev2, uint8x16_t prev3) {
    uint8x16_t b1h = vqtbl1q_u8(c->byte1_high, vshrq_n_u8(prev1, 4));
    uint8x16_t b1l = vqtbl1q_u8(c->byte1_low, vandq_u8(prev1, c->nibble));
    uint8x16_t b2h = vqtbl1q_u8(c->byte2_high, vshrq_n_u8(cur, 4));
    uint8x16_t special = vandq_u8(vandq_u8(b1h, b1l), b2h);
    uint8x16_t must23 = vorrq_u8(vqsubq_u8(prev2, c->third_sub), vqsubq_u8(prev3, c->fourth_sub));
    return veorq_u8(vandq_u8(must23, c->bit7), special);
}

/* Check the 16 bytes at data + i, reading the bytes before them straight
 * from memory; at i == 0 there are none, and since the data starts at a
 * code point boundary they count as ASCII (zero). */
static inline uint8x16_t neon_check_at(const neon_consts *c, const unsigned char *data, size_t i,
                                       uint8x16_t cur) {
    if (WSFAST_LIKELY(i != 0))
        return neon_check(c, cur, vld1q_u8(data + i - 1), vld1q_u8(data + i - 2),
                          vld1q_u8(data + i - 3));
    uint8x16_t zero = vdupq_n_u8(0);
    return neon_check(c, cur, vextq_u8(zero, cur, 15), vextq_u8(zero, cur, 14),
                      vextq_u8(zero, cur, 13));
}

static inline int neon_any(uint8x16_t v) {
    return vmaxvq_u8(v) != 0;
}

static size_t neon_scan(const unsigned char *data, size_t len) {
    const neon_consts c = neon_make_consts();
    /* Non-zero when the last checked vector ended inside a sequence: an
     * all-ASCII block cannot then follow. */
    uint8x16_t open = vdupq_n_u8(0);
    size_t i = 0;

    for (; len - i >= 64; i += 64) {
        uint8x16_t v0 = vld1q_u8(data + i), v1 = vld1q_u8(data + i + 16);
        uint8x16_t v2 = vld1q_u8(data + i + 32), v3 = vld1q_u8(data + i + 48);
        if (vmaxvq_u8(vorrq_u8(vorrq_u8(v0, v1), vorrq_u8(v2, v3))) < 0x80) {
            if (neon_any(open))
                return i;
            continue;
        }
        uint8x16_t err = vorrq_u8(
            vorrq_u8(neon_check_at(&c, data, i, v0), neon_check_at(&c, data, i + 16, v1)),
            vorrq_u8(neon_check_at(&c, data, i + 32, v2), neon_check_at(&c, data, i + 48, v3)));
        if (neon_any(err))
            return i;
        open = vqsubq_u8(v3, c.incomplete);
    }
    for (; len - i >= 16; i += 16) {
        uint8x16_t v = vld1q_u8(data + i);
        if (vmaxvq_u8(v) < 0x80) {
            if (neon_any(open))
                return i;
        } else {
            if (neon_any(neon_check_at(&c, data, i, v)))
                return i;
            open = vqsubq_u8(v, c.incomplete);
        }
    }
    return i;
}

size_t wsfast_utf8_neon(uint32_t *state, const unsigned char *data, size_t len) {
    return wsfast_utf8_drive(state, data, len, neon_scan);
}

#else /* no NEON kernels: keep the symbol so every build links the same */

size_t wsfast_utf8_neon(uint32_t *state, const unsigned char *data, size_t len) {
    return wsfast_utf8_scalar(state, data, len);
}

#endif
