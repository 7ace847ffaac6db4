/* Reference masking kernel (RFC 6455 §5.3): 8 bytes at a time.
 *
 * The key is widened to 64 bits once; the 8-byte steps keep the key phase
 * because 8 is a multiple of 4. Loads and stores go through memcpy, so any
 * alignment is fine and nothing is type-punned. */
#include "compat.h"
#include "mask_internal.h"
#include "wsfast.h"

void wsfast_mask_scalar(unsigned char *dst, const unsigned char *src, size_t len,
                        const unsigned char key[4]) {
    const uint64_t key64 = wsfast_mask_key64(key);
    size_t i = 0;

    for (; i + 32 <= len; i += 32) {
        uint64_t a = wsfast_load64(src + i);
        uint64_t b = wsfast_load64(src + i + 8);
        uint64_t c = wsfast_load64(src + i + 16);
        uint64_t d = wsfast_load64(src + i + 24);
        wsfast_store64(dst + i, a ^ key64);
        wsfast_store64(dst + i + 8, b ^ key64);
        wsfast_store64(dst + i + 16, c ^ key64);
        wsfast_store64(dst + i + 24, d ^ key64);
    }
    if (len - i >= 16) {
        wsfast_store64(dst + i, wsfast_load64(src + i) ^ key64);
        wsfast_store64(dst + i + 8, wsfast_load64(src + i + 8) ^ key64);
        i += 16;
    }
    /* i is a multiple of 16 here, so the key phase is 0 again. */
    wsfast_mask_short(dst + i, src + i, len - i, key, key64);
}
