/* UTF-8 validation, scalar reference (RFC 3629 §3-4; RFC 6455 §8.1).
 *
 * A resumable DFA that rejects at the first byte that cannot continue any
 * valid sequence (fail-fast): ED A0 fails at A0, F4 90 at 90, C0 at C0.
 * Every SIMD kernel must agree with it byte for byte, and they all hand
 * their tails and their failing blocks to it.
 *
 * The transition table uses the "shift DFA" layout: each byte has one
 * 64-bit row holding the next state for every current state, in 6-bit
 * fields at bit 6 * state. A step is then one load (which depends only on
 * the input byte) and one shift, so the critical path per byte is a single
 * shift instead of a dependent table lookup. */
#include "compat.h"
#include "wsfast.h"
#include "utf8_internal.h"

#define FIELD_BITS 6u
#define FIELD_MASK 63u
#define OFF(s) ((unsigned)(s) * FIELD_BITS)

/* A row starts with every state going to S_REJECT; T(from, to) flips one
 * field from S_REJECT to `to` (XOR, since the field holds OFF(S_REJECT)).
 * So every transition not listed below rejects, the safe default. */
#define REJ(s) ((uint64_t)OFF(S_REJECT) << OFF(s))
#define ALL_REJECT                                                          \
    (REJ(0) | REJ(1) | REJ(2) | REJ(3) | REJ(4) | REJ(5) | REJ(6) | REJ(7) | \
     REJ(8))
#define T(from, to) ((uint64_t)(OFF(S_REJECT) ^ OFF(to)) << OFF(from))

/* One row per byte class. */
#define ROW_ASCII (ALL_REJECT ^ T(S_ACCEPT, S_ACCEPT))
#define ROW_80_8F                                                           \
    (ALL_REJECT ^ T(S_CONT1, S_ACCEPT) ^ T(S_CONT2, S_CONT1) ^              \
     T(S_AFTER_ED, S_CONT1) ^ T(S_CONT3, S_CONT2) ^ T(S_AFTER_F4, S_CONT2))
#define ROW_90_9F                                                           \
    (ALL_REJECT ^ T(S_CONT1, S_ACCEPT) ^ T(S_CONT2, S_CONT1) ^              \
     T(S_AFTER_ED, S_CONT1) ^ T(S_CONT3, S_CONT2) ^ T(S_AFTER_F0, S_CONT2))
#define ROW_A0_BF                                                           \
    (ALL_REJECT ^ T(S_CONT1, S_ACCEPT) ^ T(S_CONT2, S_CONT1) ^              \
     T(S_AFTER_E0, S_CONT1) ^ T(S_CONT3, S_CONT2) ^ T(S_AFTER_F0, S_CONT2))
#define ROW_LEAD2 (ALL_REJECT ^ T(S_ACCEPT, S_CONT1))      /* C2..DF */
#define ROW_E0 (ALL_REJECT ^ T(S_ACCEPT, S_AFTER_E0))
#define ROW_LEAD3 (ALL_REJECT ^ T(S_ACCEPT, S_CONT2))      /* E1..EC, EE..EF */
#define ROW_ED (ALL_REJECT ^ T(S_ACCEPT, S_AFTER_ED))
#define ROW_F0 (ALL_REJECT ^ T(S_ACCEPT, S_AFTER_F0))
#define ROW_LEAD4 (ALL_REJECT ^ T(S_ACCEPT, S_CONT3))      /* F1..F3 */
#define ROW_F4 (ALL_REJECT ^ T(S_ACCEPT, S_AFTER_F4))
#define ROW_BAD ALL_REJECT /* C0, C1 (always overlong), F5..FF (too large) */

#define X2(r) r, r
#define X4(r) X2(r), X2(r)
#define X8(r) X4(r), X4(r)
#define X16(r) X8(r), X8(r)

static const uint64_t utf8_rows[256] = {
    X16(ROW_ASCII), X16(ROW_ASCII), X16(ROW_ASCII), X16(ROW_ASCII), /* 00..3F */
    X16(ROW_ASCII), X16(ROW_ASCII), X16(ROW_ASCII), X16(ROW_ASCII), /* 40..7F */
    X16(ROW_80_8F),                                                 /* 80..8F */
    X16(ROW_90_9F),                                                 /* 90..9F */
    X16(ROW_A0_BF), X16(ROW_A0_BF),                                 /* A0..BF */
    X2(ROW_BAD),                                                    /* C0..C1 */
    X2(ROW_LEAD2), X4(ROW_LEAD2), X8(ROW_LEAD2),                    /* C2..CF */
    X16(ROW_LEAD2),                                                 /* D0..DF */
    ROW_E0,                                                         /* E0 */
    ROW_LEAD3, X2(ROW_LEAD3), X8(ROW_LEAD3), ROW_LEAD3,             /* E1..EC */
    ROW_ED,                                                         /* ED */
    X2(ROW_LEAD3),                                                  /* EE..EF */
    ROW_F0,                                                         /* F0 */
    ROW_LEAD4, X2(ROW_LEAD4),                                       /* F1..F3 */
    ROW_F4,                                                         /* F4 */
    ROW_BAD, X2(ROW_BAD), X8(ROW_BAD),                              /* F5..FF */
};

/* One DFA step. The count is masked inside the shift (x86 shrx does that
 * for free), so the field above the 6 bits we want can stay unmasked. */
static inline uint64_t step(uint64_t s, unsigned char byte) {
    return utf8_rows[byte] >> (s & FIELD_MASK);
}

#define HIGH_BITS UINT64_C(0x8080808080808080)

size_t wsfast_utf8_scalar(uint32_t *state, const unsigned char *data, size_t len) {
    /* An out-of-range state can only come from a caller bug: treat it as
     * an error rather than index past the rows. */
    uint64_t s = *state < S_COUNT ? OFF(*state) : OFF(S_REJECT);
    size_t i = 0;

    for (;;) {
        /* ASCII fast path: between code points, skip 16 bytes whose high
         * bits are all clear. */
        if ((s & FIELD_MASK) == OFF(S_ACCEPT)) {
            while (len - i >= 16 &&
                   ((wsfast_load64(data + i) | wsfast_load64(data + i + 8)) & HIGH_BITS) == 0)
                i += 16;
        }
        if (len - i < 8)
            break;
        /* Eight steps with one test: S_REJECT absorbs, so if it is reached
         * anywhere in the eight it is still there at the end; the byte loop
         * below then finds the exact byte. */
        uint64_t t = s;
        for (size_t k = 0; k < 8; k++)
            t = step(t, data[i + k]);
        if ((t & FIELD_MASK) == OFF(S_REJECT))
            break;
        s = t;
        i += 8;
    }
    /* The tail, or the eight bytes that hold the first invalid one. */
    for (; i < len; i++) {
        s = step(s, data[i]) & FIELD_MASK;
        if (s == OFF(S_REJECT)) {
            *state = WSFAST_UTF8_REJECT;
            return i;
        }
    }
    *state = (uint32_t)((s & FIELD_MASK) / FIELD_BITS);
    return len;
}
