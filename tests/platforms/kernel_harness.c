/* Checks every mask and UTF-8 kernel compiled for this target against the
 * scalar kernels and against references written here, independent of csrc/:
 *   - random lengths from 0 to 4 KiB, plus every length up to 320;
 *   - every source and destination alignment within 64 bytes, in place and
 *     out of place, and every key phase;
 *   - invalid UTF-8 of every kind at every position, whole and split into
 *     two chunks at every point (the state carried between calls).
 * Bytes around each output are guarded against stray writes.
 *
 * Build: cc -std=c11 -O2 -Icsrc csrc/[all .c] tests/platforms/kernel_harness.c
 * Run:   ./a.out [seed]; exit status 0 when every check passed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsfast.h"

#define MAX_LEN 4096
#define ALIGN 64
#define GUARD 64
#define GUARD_BYTE 0xA5

typedef struct {
    const char *name;
    int level;
    wsfast_mask_fn fn;
} mask_kernel;

typedef struct {
    const char *name;
    int level;
    wsfast_utf8_fn fn;
} utf8_kernel;

static const mask_kernel mask_kernels[] = {
    {"scalar", WSFAST_LEVEL_SCALAR, wsfast_mask_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {"sse2", WSFAST_LEVEL_SSE2, wsfast_mask_sse2},
    {"avx2", WSFAST_LEVEL_AVX2, wsfast_mask_avx2},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {"neon", WSFAST_LEVEL_NEON, wsfast_mask_neon},
#endif
};

static const utf8_kernel utf8_kernels[] = {
    {"scalar", WSFAST_LEVEL_SCALAR, wsfast_utf8_scalar},
#if defined(__x86_64__) || defined(_M_X64)
    {"ssse3", WSFAST_LEVEL_SSSE3, wsfast_utf8_ssse3},
    {"avx2", WSFAST_LEVEL_AVX2, wsfast_utf8_avx2},
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
    {"neon", WSFAST_LEVEL_NEON, wsfast_utf8_neon},
#endif
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static unsigned long long checks, failures;

/* xorshift64*: reproducible from the seed on every platform. */
static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static unsigned long long rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static size_t below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

static void fail(const char *what, const char *kernel, size_t len, size_t a, size_t b) {
    failures++;
    if (failures <= 20) {
        fprintf(stderr, "FAIL %s [%s] len=%zu %zu %zu\n", what, kernel, len, a, b);
    }
}

/* ---- masking ------------------------------------------------------------- */

static unsigned char mask_src[MAX_LEN + 2 * ALIGN + 2 * GUARD];
static unsigned char mask_out[MAX_LEN + 2 * ALIGN + 2 * GUARD];
static unsigned char mask_want[MAX_LEN];

static int guards_intact(const unsigned char *buf, size_t start, size_t len, size_t total) {
    for (size_t i = 0; i < start; i++) {
        if (buf[i] != GUARD_BYTE) return 0;
    }
    for (size_t i = start + len; i < total; i++) {
        if (buf[i] != GUARD_BYTE) return 0;
    }
    return 1;
}

/* One length at one source/destination alignment and key phase, for every
 * kernel; in place when in_place is set. */
static void mask_case(size_t len, size_t src_off, size_t dst_off, size_t phase, int in_place) {
    unsigned char key[4], rotated[4];
    for (int i = 0; i < 4; i++) key[i] = (unsigned char)rng();
    for (size_t i = 0; i < 4; i++) rotated[i] = key[(phase + i) & 3];
    unsigned char *src = mask_src + GUARD + src_off;
    for (size_t i = 0; i < len; i++) src[i] = (unsigned char)rng();
    /* The reference: RFC 6455 §5.3, octet i XOR key[(phase + i) mod 4]. */
    for (size_t i = 0; i < len; i++) mask_want[i] = (unsigned char)(src[i] ^ key[(phase + i) & 3]);

    const size_t total = sizeof mask_out;
    for (size_t k = 0; k < COUNT(mask_kernels); k++) {
        if (!wsfast_level_supported(mask_kernels[k].level)) continue;
        checks++;
        if (in_place) {
            memset(mask_out, GUARD_BYTE, total);
            unsigned char *buf = mask_out + GUARD + src_off;
            memcpy(buf, src, len);
            mask_kernels[k].fn(buf, buf, len, rotated);
            if (memcmp(buf, mask_want, len) != 0)
                fail("mask in place", mask_kernels[k].name, len, src_off, phase);
            if (!guards_intact(mask_out, GUARD + src_off, len, total))
                fail("mask in place wrote outside", mask_kernels[k].name, len, src_off, phase);
        } else {
            memset(mask_out, GUARD_BYTE, total);
            unsigned char *dst = mask_out + GUARD + dst_off;
            mask_kernels[k].fn(dst, src, len, rotated);
            if (memcmp(dst, mask_want, len) != 0)
                fail("mask", mask_kernels[k].name, len, src_off, dst_off);
            if (!guards_intact(mask_out, GUARD + dst_off, len, total))
                fail("mask wrote outside", mask_kernels[k].name, len, src_off, dst_off);
        }
    }
}

static void test_mask(void) {
    /* Every length up to 320 (every SIMD tail and the alignment threshold),
     * at every source alignment, in place and out of place. */
    for (size_t len = 0; len <= 320; len++) {
        for (size_t off = 0; off < ALIGN; off++) {
            mask_case(len, off, below(ALIGN), off & 3, 0);
            mask_case(len, off, 0, (off + 1) & 3, 1);
        }
    }
    /* Random lengths to 4 KiB at every source x destination alignment. */
    for (size_t src_off = 0; src_off < ALIGN; src_off++) {
        for (size_t dst_off = 0; dst_off < ALIGN; dst_off++) {
            mask_case(below(MAX_LEN + 1), src_off, dst_off, below(4), 0);
        }
        mask_case(MAX_LEN, src_off, 0, below(4), 1);
        mask_case(below(MAX_LEN + 1), src_off, 0, below(4), 1);
    }
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Reference: the index of the first byte that proves data invalid (RFC 3629
 * §4), or len when every byte seen is valid (a sequence may stay open at
 * the end). */
static size_t utf8_reference(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        for (size_t j = 1; j <= n; j++) {
            if (i + j >= len) return len;
            unsigned b = s[i + j];
            if (j == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return i + j;
        }
        i += n + 1;
    }
    return len;
}

/* Whether the reference ends inside an open sequence. */
static int utf8_open_at_end(const unsigned char *s, size_t len) {
    size_t i = len;
    for (size_t back = 0; back < 3 && i > 0; back++) {
        unsigned c = s[--i];
        if ((c & 0xC0) != 0x80) {
            size_t n = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
            return i + n > len;
        }
    }
    return 0;
}

static size_t put_char(unsigned char *p, unsigned long cp) {
    if (cp < 0x80) {
        p[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        p[0] = (unsigned char)(0xC0 | (cp >> 6));
        p[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        p[0] = (unsigned char)(0xE0 | (cp >> 12));
        p[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        p[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    p[0] = (unsigned char)(0xF0 | (cp >> 18));
    p[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    p[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    p[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Valid UTF-8 of exactly len bytes; ascii_pct percent of the characters are
 * ASCII (the SIMD fast path), the rest 2, 3 and 4 bytes, edges included. */
static void make_valid(unsigned char *p, size_t len, unsigned ascii_pct) {
    static const unsigned long edges[] = {0x7F, 0x80, 0x7FF, 0x800, 0xD7FF, 0xE000,
                                          0xFFFD, 0xFFFF, 0x10000, 0x10FFFF};
    size_t i = 0;
    while (i < len) {
        unsigned long cp;
        size_t room = len - i;
        unsigned pick = (unsigned)below(100);
        if (pick < ascii_pct || room == 1) {
            cp = below(0x80);
        } else if (pick < ascii_pct + 5) {
            cp = edges[below(COUNT(edges))];
        } else {
            unsigned width = 2 + (unsigned)below(3);
            cp = width == 2 ? 0x80 + below(0x780) : width == 3 ? 0x800 + below(0xF800) : 0x10000 + below(0x100000);
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xE000;
        }
        unsigned char tmp[4];
        size_t n = put_char(tmp, cp);
        if (n > room) continue;
        memcpy(p + i, tmp, n);
        i += n;
    }
}

/* Every way a byte can make input invalid: a stray continuation, never-valid
 * bytes, an overlong, a surrogate, above U+10FFFF, a lead cut short. */
static size_t corrupt(unsigned char *p, size_t len, size_t pos) {
    static const unsigned char bad[][2] = {
        {0x80, 0}, {0xBF, 0}, {0xC0, 0x80}, {0xC1, 0xBF}, {0xF5, 0x80}, {0xFF, 0},
        {0xE0, 0x80}, {0xED, 0xA0}, {0xF0, 0x8F}, {0xF4, 0x90}, {0xE2, 0x41}, {0xC3, 0xC3},
    };
    size_t which = below(COUNT(bad));
    p[pos] = bad[which][0];
    if (bad[which][1] && pos + 1 < len) p[pos + 1] = bad[which][1];
    return which;
}

static unsigned char utf8_buf[MAX_LEN + ALIGN];

/* One input at one alignment for every kernel: whole, and split into two
 * calls at `split`. */
static void utf8_case(const unsigned char *text, size_t len, size_t off, size_t split) {
    unsigned char *p = utf8_buf + off;
    memmove(p, text, len);
    size_t want = utf8_reference(p, len);
    int want_open = want == len && utf8_open_at_end(p, len);

    uint32_t scalar_state = WSFAST_UTF8_ACCEPT;
    size_t scalar = wsfast_utf8_scalar(&scalar_state, p, len);
    checks++;
    if (scalar != want) fail("utf8 scalar vs reference", "scalar", len, scalar, want);
    if (want < len && scalar_state != WSFAST_UTF8_REJECT)
        fail("utf8 scalar state after error", "scalar", len, want, scalar_state);
    if (want == len && (scalar_state != WSFAST_UTF8_ACCEPT) != want_open)
        fail("utf8 scalar open state", "scalar", len, (size_t)want_open, scalar_state);

    for (size_t k = 0; k < COUNT(utf8_kernels); k++) {
        if (!wsfast_level_supported(utf8_kernels[k].level)) continue;
        const char *name = utf8_kernels[k].name;
        checks++;
        uint32_t state = WSFAST_UTF8_ACCEPT;
        size_t got = utf8_kernels[k].fn(&state, p, len);
        if (got != want) fail("utf8", name, len, got, want);
        if (state != scalar_state) fail("utf8 state", name, len, state, scalar_state);

        /* Two chunks: the first index is relative to its own chunk. */
        state = WSFAST_UTF8_ACCEPT;
        size_t first = utf8_kernels[k].fn(&state, p, split);
        size_t total = first;
        if (first == split) total = split + utf8_kernels[k].fn(&state, p + split, len - split);
        if (total != want) fail("utf8 split", name, len, split, total);
        if (state != scalar_state) fail("utf8 split state", name, len, split, state);
    }
}

static unsigned char text[MAX_LEN];

static void test_utf8(void) {
    static const unsigned ascii_mix[] = {0, 50, 90, 100};
    /* Valid inputs: random lengths, every alignment, every ASCII mix. */
    for (size_t off = 0; off < ALIGN; off++) {
        for (size_t m = 0; m < COUNT(ascii_mix); m++) {
            size_t len = below(MAX_LEN + 1);
            make_valid(text, len, ascii_mix[m]);
            utf8_case(text, len, off, below(len + 1));
        }
    }
    /* Every length up to 320, split at every point. */
    for (size_t len = 0; len <= 320; len++) {
        make_valid(text, len, ascii_mix[len % COUNT(ascii_mix)]);
        for (size_t split = 0; split <= len; split += 1 + len / 40) {
            utf8_case(text, len, below(ALIGN), split);
        }
    }
    /* Invalid bytes at every position of inputs up to 320 bytes, and at
     * every position of a 4 KiB input, at rotating alignments. */
    unsigned char bad[MAX_LEN];
    for (size_t len = 1; len <= 320; len += 1 + len / 64) {
        make_valid(text, len, ascii_mix[len % COUNT(ascii_mix)]);
        for (size_t pos = 0; pos < len; pos++) {
            memcpy(bad, text, len);
            corrupt(bad, len, pos);
            utf8_case(bad, len, pos % ALIGN, below(len + 1));
        }
    }
    for (size_t m = 0; m < COUNT(ascii_mix); m++) {
        make_valid(text, MAX_LEN, ascii_mix[m]);
        for (size_t pos = 0; pos < MAX_LEN; pos++) {
            memcpy(bad, text, MAX_LEN);
            corrupt(bad, MAX_LEN, pos);
            utf8_case(bad, MAX_LEN, (pos + m) % ALIGN, below(MAX_LEN + 1));
        }
    }
}

int main(int argc, char **argv) {
    if (argc > 1) rng_state = strtoull(argv[1], NULL, 0) | 1;
    printf("kernel harness, seed %llu; levels:", rng_state);
    for (int level = 0; level < WSFAST_LEVEL_COUNT; level++) {
        if (wsfast_level_supported(level)) printf(" %s", wsfast_level_name(level));
    }
    printf("\n");
    test_mask();
    unsigned long long mask_checks = checks;
    test_utf8();
    printf("mask: %llu kernel runs; utf8: %llu kernel runs; %llu failures\n", mask_checks,
           checks - mask_checks, failures);
    return failures ? 1 : 0;
}
