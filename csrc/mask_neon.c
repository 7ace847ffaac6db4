/* NEON masking kernel (aarch64 baseline): 64 bytes per iteration. */
#include "compat.h"
#include "mask_internal.h"
#include "wsfast.h"

#if defined(WSFAST_HAVE_NEON_KERNELS)
#include <arm_neon.h>

void wsfast_mask_neon(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]) {
    const uint8x16_t k = vreinterpretq_u8_u32(vdupq_n_u32(wsfast_load32(key)));
    size_t i = 0;

    for (; i + 64 <= len; i += 64) {
        uint8x16_t a = vld1q_u8(src + i);
        uint8x16_t b = vld1q_u8(src + i + 16);
        uint8x16_t c = vld1q_u8(src + i + 32);
        uint8x16_t d = vld1q_u8(src + i + 48);
        vst1q_u8(dst + i, veorq_u8(a, k));
        vst1q_u8(dst + i + 16, veorq_u8(b, k));
        vst1q_u8(dst + i + 32, veorq_u8(c, k));
        vst1q_u8(dst + i + 48, veorq_u8(d, k));
    }
    for (; i + 16 <= len; i += 16) {
        vst1q_u8(dst + i, veorq_u8(vld1q_u8(src + i), k));
    }
    /* Fewer than 16 bytes left, starting at key phase 0. */
    wsfast_mask_short(dst + i, src + i, len - i, key, wsfast_mask_key64(key));
}
#endif
