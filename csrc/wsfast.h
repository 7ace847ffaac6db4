/* The one header wsfast/_c.pyx sees: kernel signatures, kernel tables and
 * the run-time dispatch API. No Python C-API anywhere in csrc/. */
#ifndef WSFAST_H
#define WSFAST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CPU features (cpu.c) ------------------------------------------------ */

enum {
    WSFAST_CPU_SSE2 = 1u << 0,
    WSFAST_CPU_SSSE3 = 1u << 1,
    WSFAST_CPU_SSE41 = 1u << 2,
    WSFAST_CPU_AVX2 = 1u << 3,
    WSFAST_CPU_NEON = 1u << 4,
};

/* Bit mask of WSFAST_CPU_* this CPU and OS support (detected once). */
unsigned wsfast_cpu_features(void);

/* ---- Kernel levels and dispatch (dispatch.c) ----------------------------- */

/* ISA levels, best last. Each kernel family uses its best kernel whose
 * requirement does not exceed the selected level. */
typedef enum {
    WSFAST_LEVEL_SCALAR = 0,
    WSFAST_LEVEL_SSE2 = 1,
    WSFAST_LEVEL_SSSE3 = 2,
    WSFAST_LEVEL_AVX2 = 3,
    WSFAST_LEVEL_NEON = 4,
    WSFAST_LEVEL_COUNT = 5
} wsfast_level;

/* Name of a level ("scalar", "sse2", ...), or NULL when out of range. */
const char *wsfast_level_name(int level);
/* Level for a name, or -1 when the name is unknown. */
int wsfast_level_from_name(const char *name);
/* Whether this CPU can run the kernels of a level. */
int wsfast_level_supported(int level);
/* The best level this CPU supports. */
int wsfast_best_level(void);
/* Select the kernels of every family for a level; returns 0, or -1 when the
 * CPU does not support it (nothing changes then). */
int wsfast_select_level(int level);
/* The level currently selected. */
int wsfast_current_level(void);
/* The compiler flags and compiler this extension was built with. */
const char *wsfast_build_flags(void);
const char *wsfast_compiler(void);

/* ---- Masking (mask_*.c), RFC 6455 §5.3 ------------------------------------ */

/* XOR len bytes of src with key repeated and write them to dst. dst may
 * equal src (in place) but must not otherwise overlap it. The caller rotates
 * key for a non-zero starting offset. Touches only [0, len). */
typedef void (*wsfast_mask_fn)(unsigned char *dst, const unsigned char *src, size_t len,
                               const unsigned char key[4]);

void wsfast_mask_scalar(unsigned char *dst, const unsigned char *src, size_t len,
                        const unsigned char key[4]);
void wsfast_mask_sse2(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]);
void wsfast_mask_avx2(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]);
void wsfast_mask_neon(unsigned char *dst, const unsigned char *src, size_t len,
                      const unsigned char key[4]);

/* The key as seen from payload byte `phase`: out[i] = key[(phase + i) % 4].
 * Masking that starts at `phase` (a kernel's aligned head, a payload masked
 * in pieces) continues with this key. Static inline: each kernel file gets
 * its own copy, compiled for its target. */
static inline void wsfast_mask_rotate(const unsigned char key[4], size_t phase,
                                      unsigned char out[4]) {
    for (size_t i = 0; i < 4; i++) {
        out[i] = key[(phase + i) & 3];
    }
}

/* The kernel chosen for the selected level, and its name. */
extern wsfast_mask_fn wsfast_mask;
const char *wsfast_mask_name(void);

/* memcpy for payloads (no overlap): from WSFAST_COPY_KERNEL_MIN to
 * WSFAST_COPY_KERNEL_MAX bytes, the selected AVX2 mask kernel with a zero key;
 * memcpy otherwise. In that range glibc before 2.39 copies with `rep movsb`
 * on CPUs with FSRM, which on AMD Zen 3 and 4 runs 25-30x slower when
 * (dst - src) mod 4096 is 1..31 (glibc bug 30994), an offset payload buffers
 * land on by chance. The kernel keeps full speed at every offset and matches
 * memcpy's mean there; above the range glibc's large-copy loop is faster. */
#define WSFAST_COPY_KERNEL_MIN 2048
#define WSFAST_COPY_KERNEL_MAX (1024 * 1024)
void wsfast_copy(unsigned char *dst, const unsigned char *src, size_t len);

/* ---- UTF-8 validation (utf8_*.c), RFC 3629 -------------------------------- */

/* DFA state: ACCEPT at a code point boundary, REJECT after an error; other
 * values record an unfinished sequence. */
#define WSFAST_UTF8_ACCEPT 0u
#define WSFAST_UTF8_REJECT 1u

/* Validate a chunk, continuing from *state. Returns len when no byte seen so
 * far is invalid (*state then records any unfinished sequence), otherwise
 * the index in this chunk of the first byte that proves the input invalid,
 * with *state set to WSFAST_UTF8_REJECT. */
typedef size_t (*wsfast_utf8_fn)(uint32_t *state, const unsigned char *data, size_t len);

size_t wsfast_utf8_scalar(uint32_t *state, const unsigned char *data, size_t len);
size_t wsfast_utf8_ssse3(uint32_t *state, const unsigned char *data, size_t len);
size_t wsfast_utf8_avx2(uint32_t *state, const unsigned char *data, size_t len);
size_t wsfast_utf8_neon(uint32_t *state, const unsigned char *data, size_t len);

extern wsfast_utf8_fn wsfast_utf8;
const char *wsfast_utf8_name(void);

/* ---- Frame headers (frame_header.c), RFC 6455 §5.2 ------------------------ */

/* Parsing results: > 0 is the header size in bytes (2..14); 0 means more
 * bytes are needed; < 0 is the rule the header breaks. Every error is a
 * protocol error (close code 1002) except WSFAST_FRAME_E_TOO_BIG (1009). */
#define WSFAST_FRAME_NEED_MORE 0
#define WSFAST_FRAME_E_RSV (-1)                /* an RSV bit no extension claimed */
#define WSFAST_FRAME_E_OPCODE (-2)             /* a reserved opcode, 3-7 or 11-15 */
#define WSFAST_FRAME_E_CONTROL_FRAGMENTED (-3) /* a control frame with FIN = 0 (§5.5) */
#define WSFAST_FRAME_E_MASKED (-4)             /* a masked frame where none may be (§5.1) */
#define WSFAST_FRAME_E_UNMASKED (-5)           /* an unmasked frame from a client (§5.1) */
#define WSFAST_FRAME_E_CONTROL_TOO_LONG (-6)   /* a control payload over 125 bytes (§5.5) */
#define WSFAST_FRAME_E_NOT_MINIMAL (-7)        /* a length not in its shortest form */
#define WSFAST_FRAME_E_LENGTH_TOP_BIT (-8)     /* a 64-bit length with its top bit set */
#define WSFAST_FRAME_E_TOO_BIG (-9)            /* a length over rules->max_length */

#define WSFAST_FRAME_HEADER_MAX 14   /* 2 + 8 (64-bit length) + 4 (masking key) */
#define WSFAST_MAX_CONTROL_PAYLOAD 125u

/* What one endpoint accepts: fixed for a connection. */
typedef struct {
    unsigned allowed_rsv; /* RSV bits claimed by extensions: 0b100 = RSV1 */
    int masked;           /* 1: frames must be masked (server); 0: must not be (client) */
    uint64_t max_length;  /* largest payload accepted; UINT64_MAX for no limit */
} wsfast_frame_rules;

typedef struct {
    uint64_t length;            /* payload length */
    unsigned char mask_key[4];  /* all zero when not masked */
    unsigned first;             /* byte 0: FIN, RSV1-3, opcode */
    unsigned masked;            /* 1 when a masking key follows the length */
    unsigned size;              /* header bytes, 2..14 */
} wsfast_frame_header;

/* Parse the header at the start of data[0, len). Checks each rule as soon
 * as the byte deciding it is there, so an error is reported by the first
 * call that sees the offending byte. *h is written only on success. */
int wsfast_frame_header_parse(wsfast_frame_header *h, const unsigned char *data, size_t len,
                              const wsfast_frame_rules *rules);

/* Write the header of a frame with the shortest length encoding; mask_key
 * is NULL for an unmasked frame. Returns the header size (2..14). */
size_t wsfast_frame_header_build(unsigned char out[WSFAST_FRAME_HEADER_MAX], unsigned first,
                                 uint64_t length, const unsigned char *mask_key);

#ifdef __cplusplus
}
#endif

#endif /* WSFAST_H */
