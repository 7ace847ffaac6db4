/* Where out-of-place masking stops: wsfast's mask kernels against memcpy and
 * against masking in place, kernel only (no Python), in bytes per TSC tick.
 *
 *   gcc -O2 -Icsrc bench/mask_bandwidth.c csrc/mask_*.c -o /tmp/mask_bandwidth
 *   /tmp/mask_bandwidth 1048576
 *
 * x86-64 with AVX2 only. The contenders take turns (round-robin, 2000 rounds)
 * so a burst of other work on a shared machine slows all of them; best and
 * mean per contender. Once source and destination together overflow L2, an
 * out-of-place kernel runs at memcpy's speed (each destination line is read
 * before it is written), while in place it moves half the lines. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <x86intrin.h>

#include "wsfast.h"

static void copy(unsigned char *dst, const unsigned char *src, size_t len,
                 const unsigned char key[4]) {
    (void)key;
    memcpy(dst, src, len);
}

static void avx2_in_place(unsigned char *dst, const unsigned char *src, size_t len,
                          const unsigned char key[4]) {
    (void)src;
    wsfast_mask_avx2(dst, dst, len, key);
}

int main(int argc, char **argv) {
    size_t len = argc > 1 ? strtoull(argv[1], NULL, 0) : (size_t)1 << 20;
    enum { ROUNDS = 2000, N = 5 };
    const struct {
        const char *name;
        wsfast_mask_fn fn;
    } contenders[N] = {
        {"mask avx2", wsfast_mask_avx2},
        {"mask sse2", wsfast_mask_sse2},
        {"mask scalar", wsfast_mask_scalar},
        {"memcpy", copy},
        {"mask avx2 in place", avx2_in_place},
    };
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    unsigned char *src = malloc(len), *dst = malloc(len);
    if (src == NULL || dst == NULL) {
        return 1;
    }
    memset(src, 0x5a, len);
    memset(dst, 0, len);
    uint64_t best[N], total[N] = {0};
    for (int i = 0; i < N; i++) {
        best[i] = UINT64_MAX;
    }
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            uint64_t start = __rdtsc();
            contenders[i].fn(dst, src, len, key);
            uint64_t ticks = __rdtsc() - start;
            best[i] = ticks < best[i] ? ticks : best[i];
            total[i] += ticks;
        }
    }
    printf("%zu bytes, %d rounds: bytes per tick, best and mean\n", len, ROUNDS);
    for (int i = 0; i < N; i++) {
        printf("  %-20s %6.2f  %6.2f\n", contenders[i].name, (double)len / (double)best[i],
               (double)len * ROUNDS / (double)total[i]);
    }
    free(src);
    free(dst);
    return 0;
}
