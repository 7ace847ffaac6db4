/* The three nibble tables of the Keiser-Lemire "lookup" UTF-8 check
 * (J. Keiser, D. Lemire, "Validating UTF-8 In Less Than One Instruction Per
 * Byte", Software: Practice and Experience, 2021), shared by the SSSE3, AVX2
 * and NEON kernels. Included only by those files.
 *
 * For each byte position the algorithm looks at the pair (prev1, cur): the
 * byte before and the byte itself. Three 16-entry lookups, indexed by the
 * high nibble of prev1, the low nibble of prev1 and the high nibble of cur,
 * each return a set of "error kinds this nibble is compatible with"; an
 * error kind is present when all three agree, so
 *     special = BYTE1_HIGH[prev1 >> 4] & BYTE1_LOW[prev1 & 15] & BYTE2_HIGH[cur >> 4]
 * is non-zero exactly for the invalid 2-byte patterns below. Each bit is one
 * kind of error (cur is the byte that proves it):
 *
 *   bit  name        prev1      cur        meaning
 *   0    TOO_SHORT   11______   0_______   lead byte not followed by a
 *                    11______   11______   continuation byte
 *   1    TOO_LONG    0_______   10______   continuation after ASCII
 *   2    OVERLONG_3  11100000   100_____   E0 80..9F: fits in 2 bytes
 *   3    TOO_LARGE   11110100   1001____   F4 90..BF: above U+10FFFF
 *                    11110100   101_____
 *                    F5..FF     90..BF     F5..FF never start a valid sequence
 *   4    SURROGATE   11101101   101_____   ED A0..BF: U+D800..DFFF
 *   5    OVERLONG_2  1100000_   10______   C0, C1 + continuation: fits in 1
 *   6    OVERLONG_4  11110000   1000____   F0 80..8F: fits in 3 bytes
 *        TOO_LARGE_1000 F5..FF  1000____   the rest of F5..FF; bit 6 is
 *                                          shared: prev1's high-nibble entry
 *                                          (F) has it for both, and its
 *                                          low-nibble entries keep it for 0
 *                                          and 5..F but not for 1..4
 *   7    TWO_CONTS   10______   10______   continuation after continuation:
 *                                          not an error by itself, see below
 *
 * Bit 7 is resolved with a second, table-free check: cur must be a
 * continuation exactly when prev2 is a 3- or 4-byte lead (E0..FF) or prev3
 * is a 4-byte lead (F0..FF). saturating_sub(prev2, 0xE0 - 0x80) has bit 7
 * set iff prev2 >= 0xE0, and saturating_sub(prev3, 0xF0 - 0x80) iff prev3 >=
 * 0xF0; their OR masked to 0x80 is "must be 3rd or 4th byte". XOR with
 * special leaves bit 7 set both for an unexpected continuation and for a
 * missing one, and leaves bits 0..6 unchanged. The block is valid iff
 *     special ^ (must_be_2_3_continuation & 0x80) == 0 everywhere.
 * The C0/C1 lead bytes and F5..FF are caught with whatever follows them
 * (bits 0, 3, 5, 6); a lead at the very end of the data has no follower in
 * the block, which is why the driver hands the last code point to the DFA. */
#ifndef WSFAST_UTF8_LOOKUP_H
#define WSFAST_UTF8_LOOKUP_H

#include <stdint.h>

#define WSFAST_U8_TOO_SHORT (1u << 0)
#define WSFAST_U8_TOO_LONG (1u << 1)
#define WSFAST_U8_OVERLONG_3 (1u << 2)
#define WSFAST_U8_TOO_LARGE (1u << 3)
#define WSFAST_U8_SURROGATE (1u << 4)
#define WSFAST_U8_OVERLONG_2 (1u << 5)
#define WSFAST_U8_TOO_LARGE_1000 (1u << 6)
#define WSFAST_U8_OVERLONG_4 (1u << 6)
#define WSFAST_U8_TWO_CONTS (1u << 7)
/* Kinds whose verdict does not depend on prev1's low nibble. */
#define WSFAST_U8_CARRY (WSFAST_U8_TOO_SHORT | WSFAST_U8_TOO_LONG | WSFAST_U8_TWO_CONTS)

/* Indexed by prev1 >> 4. */
static const uint8_t wsfast_utf8_byte1_high[16] = {
    /* 0_______: ASCII */
    WSFAST_U8_TOO_LONG, WSFAST_U8_TOO_LONG, WSFAST_U8_TOO_LONG, WSFAST_U8_TOO_LONG,
    WSFAST_U8_TOO_LONG, WSFAST_U8_TOO_LONG, WSFAST_U8_TOO_LONG, WSFAST_U8_TOO_LONG,
    /* 10______: continuation */
    WSFAST_U8_TWO_CONTS, WSFAST_U8_TWO_CONTS, WSFAST_U8_TWO_CONTS, WSFAST_U8_TWO_CONTS,
    /* 1100____: 2-byte lead, C0/C1 among them */
    WSFAST_U8_TOO_SHORT | WSFAST_U8_OVERLONG_2,
    /* 1101____: 2-byte lead */
    WSFAST_U8_TOO_SHORT,
    /* 1110____: 3-byte lead, E0 and ED among them */
    WSFAST_U8_TOO_SHORT | WSFAST_U8_OVERLONG_3 | WSFAST_U8_SURROGATE,
    /* 1111____: 4-byte lead, F0, F4 and F5..FF among them */
    WSFAST_U8_TOO_SHORT | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000 | WSFAST_U8_OVERLONG_4,
};

/* Indexed by prev1 & 15. */
static const uint8_t wsfast_utf8_byte1_low[16] = {
    /* ____0000: C0, E0, F0 */
    WSFAST_U8_CARRY | WSFAST_U8_OVERLONG_3 | WSFAST_U8_OVERLONG_2 | WSFAST_U8_OVERLONG_4,
    /* ____0001: C1 */
    WSFAST_U8_CARRY | WSFAST_U8_OVERLONG_2,
    /* ____001_ */
    WSFAST_U8_CARRY, WSFAST_U8_CARRY,
    /* ____0100: F4 */
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE,
    /* ____0101 .. ____1111: F5..FF (bit 6 = TOO_LARGE_1000 here) */
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    /* ____1101: ED (and FD) */
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000 | WSFAST_U8_SURROGATE,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
    WSFAST_U8_CARRY | WSFAST_U8_TOO_LARGE | WSFAST_U8_TOO_LARGE_1000,
};

/* Indexed by cur >> 4. */
static const uint8_t wsfast_utf8_byte2_high[16] = {
    /* 0_______: ASCII */
    WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT,
    WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT,
    /* 1000____: 80..8F */
    WSFAST_U8_TOO_LONG | WSFAST_U8_OVERLONG_2 | WSFAST_U8_TWO_CONTS | WSFAST_U8_OVERLONG_3 |
        WSFAST_U8_TOO_LARGE_1000 | WSFAST_U8_OVERLONG_4,
    /* 1001____: 90..9F */
    WSFAST_U8_TOO_LONG | WSFAST_U8_OVERLONG_2 | WSFAST_U8_TWO_CONTS | WSFAST_U8_OVERLONG_3 |
        WSFAST_U8_TOO_LARGE,
    /* 101_____: A0..BF */
    WSFAST_U8_TOO_LONG | WSFAST_U8_OVERLONG_2 | WSFAST_U8_TWO_CONTS | WSFAST_U8_SURROGATE |
        WSFAST_U8_TOO_LARGE,
    WSFAST_U8_TOO_LONG | WSFAST_U8_OVERLONG_2 | WSFAST_U8_TWO_CONTS | WSFAST_U8_SURROGATE |
        WSFAST_U8_TOO_LARGE,
    /* 11______: a lead byte where a continuation was due */
    WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT, WSFAST_U8_TOO_SHORT,
};

/* Subtrahends for the "must be 3rd/4th byte" check (see above). */
#define WSFAST_U8_THIRD_SUB (0xE0 - 0x80)
#define WSFAST_U8_FOURTH_SUB (0xF0 - 0x80)

#endif /* WSFAST_UTF8_LOOKUP_H */
