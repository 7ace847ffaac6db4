/* Pieces shared by the masking kernels (csrc/mask_*.c), RFC 6455 §5.3.
 *
 * Every helper is static inline, so each kernel file gets its own copy,
 * compiled for that file's target: no AVX2 code can leak into a baseline
 * caller through the linker. */
#ifndef WSFAST_MASK_INTERNAL_H
#define WSFAST_MASK_INTERNAL_H

#include "compat.h"

/* Below this length the SIMD kernels do not align their stores: the head
 * they would peel costs more than the split stores it saves. */
#define WSFAST_MASK_ALIGN_MIN 256

/* The key twice in 8 bytes. Built from a memcpy'd 32-bit value, so each
 * 4-byte lane holds key[0..3] in memory order on any endianness. */
static inline uint64_t wsfast_mask_key64(const unsigned char key[4]) {
    uint64_t key32 = wsfast_load32(key);
    return (key32 << 32) | key32;
}

/* Mask len < 16 bytes starting at key phase 0 with one step each of 8, 4,
 * 2 and 1 bytes. Branches on the length bits instead of a byte loop: this
 * tail runs on every short frame. The 8- and 4-byte steps keep the phase at
 * 0, so the last 1-3 bytes use key[0], key[1], key[2]. */
static inline void wsfast_mask_short(unsigned char *dst, const unsigned char *src, size_t len,
                                     const unsigned char key[4], uint64_t key64) {
    if (len & 8) {
        wsfast_store64(dst, wsfast_load64(src) ^ key64);
        dst += 8;
        src += 8;
    }
    if (len & 4) {
        wsfast_store32(dst, wsfast_load32(src) ^ (uint32_t)key64);
        dst += 4;
        src += 4;
    }
    if (len & 2) {
        dst[0] = (unsigned char)(src[0] ^ key[0]);
        dst[1] = (unsigned char)(src[1] ^ key[1]);
    }
    if (len & 1) {
        size_t last = len & 2;
        dst[last] = (unsigned char)(src[last] ^ key[last]);
    }
}

#endif /* WSFAST_MASK_INTERNAL_H */
