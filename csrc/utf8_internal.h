/* Shared by the utf8_*.c kernels only (not part of the .pyx interface).
 *
 * Every SIMD kernel has the same outer logic, written once here:
 *   1. finish the sequence the previous chunk left open with the scalar DFA
 *      (at most three bytes), so the SIMD loop starts at a code point
 *      boundary;
 *   2. let the SIMD loop check whole blocks until one fails or the input
 *      runs short;
 *   3. step back to the start of the last code point that the loop could
 *      not see the end of, and let the scalar DFA finish from there. The
 *      DFA finds the exact first invalid byte of a failing block, checks the
 *      tail, and records any sequence left open in *state.
 * All helpers are static inline so that each ISA's file gets its own copy
 * and no baseline caller can end up linked to a target-attributed one. */
#ifndef WSFAST_UTF8_INTERNAL_H
#define WSFAST_UTF8_INTERNAL_H

#include "compat.h"
#include "wsfast.h"

/* The DFA states (values of *state between calls). wsfast.h fixes ACCEPT
 * and REJECT; each open state records how many continuation bytes are still
 * due and the range the next one must be in (RFC 3629 §4, UTF8-tail). */
enum {
    S_ACCEPT = 0,    /* at a code point boundary */
    S_REJECT = 1,    /* an invalid byte was seen; absorbing */
    S_CONT1 = 2,     /* one more byte 80..BF */
    S_CONT2 = 3,     /* two more, next 80..BF */
    S_AFTER_E0 = 4,  /* E0: next A0..BF, else overlong */
    S_AFTER_ED = 5,  /* ED: next 80..9F, else a surrogate D800..DFFF */
    S_CONT3 = 6,     /* F1..F3: three more, next 80..BF */
    S_AFTER_F0 = 7,  /* F0: next 90..BF, else overlong */
    S_AFTER_F4 = 8,  /* F4: next 80..8F, else above U+10FFFF */
    S_COUNT = 9
};

/* Continuation bytes still due in an open state; 0 for ACCEPT/REJECT. */
static inline size_t wsfast_utf8_needed(uint32_t state) {
    switch (state) {
    case S_CONT1:
        return 1;
    case S_CONT2:
    case S_AFTER_E0:
    case S_AFTER_ED:
        return 2;
    case S_CONT3:
    case S_AFTER_F0:
    case S_AFTER_F4:
        return 3;
    default:
        return 0;
    }
}

/* The SIMD loop: checks whole blocks of data[0, len), which starts at a
 * code point boundary, and returns how far it got (a block multiple). Every
 * byte before the returned offset is valid given its predecessors; only the
 * last code point may be open (its continuation bytes were not seen). */
typedef size_t (*wsfast_utf8_scan_fn)(const unsigned char *data, size_t len);

/* Where the scalar DFA must restart when SIMD checked data[lo, end): the
 * start of the last sequence if it continues past end, else end. Only three
 * bytes back can matter: a longer sequence cannot still be open at end. A
 * lead byte's length comes from its high nibble (C/D: 2, E: 3, F: 4), so
 * invalid leads (C0, C1, F5..FF) are also handed to the DFA, which rejects
 * them at themselves. */
static inline size_t wsfast_utf8_restart(const unsigned char *data, size_t lo, size_t end) {
    size_t j = end;
    while (j > lo && end - j < 3) {
        unsigned char c = data[--j];
        if ((c & 0xC0) != 0x80) {
            size_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            return j + n > end ? j : end;
        }
    }
    return end;
}

static inline size_t wsfast_utf8_drive(uint32_t *state, const unsigned char *data, size_t len,
                                       wsfast_utf8_scan_fn scan) {
    size_t start = 0;
    if (*state != WSFAST_UTF8_ACCEPT) {
        size_t need = wsfast_utf8_needed(*state);
        /* REJECT (or a corrupt state): the DFA reports it at byte 0. */
        if (need == 0)
            return wsfast_utf8_scalar(state, data, len);
        /* Close the sequence left open by the previous chunk. */
        start = need < len ? need : len;
        size_t r = wsfast_utf8_scalar(state, data, start);
        if (r != start || start == len)
            return r;
    }
    size_t done = start + scan(data + start, len - start);
    size_t from = wsfast_utf8_restart(data, start, done);
    return from + wsfast_utf8_scalar(state, data + from, len - from);
}

#endif /* WSFAST_UTF8_INTERNAL_H */
