/* Frame header parsing and building (RFC 6455 §5.2).
 *
 * Scalar on purpose: a header is 2 to 14 bytes, so the work is a handful of
 * branches. The parser checks every rule that the header alone decides, as
 * soon as the byte that decides it is available, so a decoder fed one byte
 * at a time fails on the same byte as one fed the whole stream. The order of
 * the checks is part of the contract: wsfast._py._frame_parse follows it
 * line by line, and the differential tests compare the two. */
#include "compat.h"
#include "wsfast.h"

/* Byte 0: FIN, RSV1, RSV2, RSV3, then a 4-bit opcode. Byte 1: MASK, then a
 * 7-bit length where 126 and 127 announce a 16-bit and a 64-bit length. */
#define FIN_BIT 0x80u
#define MASK_BIT 0x80u

/* Opcodes 3-7 and 11-15 are reserved (§5.2): bit n set means reserved. */
#define RESERVED_OPCODES 0xF8F8u

static int is_control(unsigned opcode) { return (opcode & 0x8u) != 0; }

/* Big-endian ("network byte order", §5.2) loads. */
static uint64_t load_be16(const unsigned char *p) {
    return ((uint64_t)p[0] << 8) | (uint64_t)p[1];
}

static uint64_t load_be64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | (uint64_t)p[i];
    }
    return v;
}

int wsfast_frame_header_parse(wsfast_frame_header *h, const unsigned char *data, size_t len,
                              const wsfast_frame_rules *rules) {
    if (len == 0) {
        return WSFAST_FRAME_NEED_MORE;
    }

    /* Byte 0 alone decides the RSV and opcode rules. */
    unsigned first = data[0];
    unsigned opcode = first & 0x0Fu;
    /* RSV1..RSV3 are bits 6..4; allowed_rsv uses 0b100 for RSV1. */
    if (((first >> 4) & 0x7u) & ~rules->allowed_rsv) {
        return WSFAST_FRAME_E_RSV;
    }
    if ((RESERVED_OPCODES >> opcode) & 1u) {
        return WSFAST_FRAME_E_OPCODE;
    }
    /* §5.5: control frames MUST NOT be fragmented. */
    if (is_control(opcode) && !(first & FIN_BIT)) {
        return WSFAST_FRAME_E_CONTROL_FRAGMENTED;
    }
    if (len < 2) {
        return WSFAST_FRAME_NEED_MORE;
    }

    /* Byte 1: masking by role (§5.1) and the control length limit (§5.5). */
    unsigned second = data[1];
    int masked = (second & MASK_BIT) != 0;
    if (masked != (rules->masked != 0)) {
        return masked ? WSFAST_FRAME_E_MASKED : WSFAST_FRAME_E_UNMASKED;
    }
    unsigned length7 = second & 0x7Fu;
    if (is_control(opcode) && length7 > WSFAST_MAX_CONTROL_PAYLOAD) {
        return WSFAST_FRAME_E_CONTROL_TOO_LONG;
    }

    /* Extended payload length (§5.2): "the minimal number of bytes MUST be
     * used to encode the length", and the 64-bit form has its top bit 0. */
    size_t size = 2;
    uint64_t length = length7;
    if (length7 == 126) {
        if (len < 4) {
            return WSFAST_FRAME_NEED_MORE;
        }
        length = load_be16(data + 2);
        if (length < 126) {
            return WSFAST_FRAME_E_NOT_MINIMAL;
        }
        size = 4;
    } else if (length7 == 127) {
        if (len < 10) {
            return WSFAST_FRAME_NEED_MORE;
        }
        length = load_be64(data + 2);
        if (length >> 63) {
            return WSFAST_FRAME_E_LENGTH_TOP_BIT;
        }
        if (length <= 0xFFFFu) {
            return WSFAST_FRAME_E_NOT_MINIMAL;
        }
        size = 10;
    }
    /* The limit is checked before the masking key is even read, so nothing
     * of an oversized frame is ever buffered. */
    if (length > rules->max_length) {
        return WSFAST_FRAME_E_TOO_BIG;
    }

    if (masked) {
        if (len < size + 4) {
            return WSFAST_FRAME_NEED_MORE;
        }
        memcpy(h->mask_key, data + size, 4);
        size += 4;
    } else {
        memset(h->mask_key, 0, 4);
    }
    h->length = length;
    h->first = first;
    h->masked = (unsigned)masked;
    h->size = (unsigned)size;
    return (int)size;
}

size_t wsfast_frame_header_build(unsigned char out[WSFAST_FRAME_HEADER_MAX], unsigned first,
                                 uint64_t length, const unsigned char *mask_key) {
    size_t size = 2;
    unsigned mask_bit = mask_key != NULL ? MASK_BIT : 0u;

    out[0] = (unsigned char)(first & 0xFFu);
    /* The shortest of the three length encodings (§5.2). */
    if (length < 126) {
        out[1] = (unsigned char)(mask_bit | (unsigned)length);
    } else if (length <= 0xFFFFu) {
        out[1] = (unsigned char)(mask_bit | 126u);
        out[2] = (unsigned char)(length >> 8);
        out[3] = (unsigned char)(length & 0xFFu);
        size = 4;
    } else {
        out[1] = (unsigned char)(mask_bit | 127u);
        for (int i = 0; i < 8; i++) {
            out[2 + i] = (unsigned char)((length >> (56 - 8 * i)) & 0xFFu);
        }
        size = 10;
    }
    if (mask_key != NULL) {
        memcpy(out + size, mask_key, 4);
        size += 4;
    }
    return size;
}
