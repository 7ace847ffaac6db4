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

/* The kernel chosen for the selected level, and its name. */
extern wsfast_mask_fn wsfast_mask;
const char *wsfast_mask_name(void);

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
/* (codec section: declarations added by the codec work) */

#ifdef __cplusplus
}
#endif

#endif /* WSFAST_H */
