/* Run-time CPU feature detection.
 *
 * x86-64: cpuid says what the CPU implements, but AVX registers are only
 * usable when the OS saves them on context switches, which xgetbv(XCR0)
 * reports (Intel SDM vol. 1, §14.3). aarch64: NEON is part of the base ISA. */
#include "compat.h"
#include "wsfast.h"

#if defined(WSFAST_X86_64)
#if defined(_MSC_VER)
#include <intrin.h>
static void wsfast_cpuid(unsigned leaf, unsigned sub, unsigned regs[4]) {
    int r[4];
    __cpuidex(r, (int)leaf, (int)sub);
    for (int i = 0; i < 4; i++) regs[i] = (unsigned)r[i];
}
static uint64_t wsfast_xgetbv(void) { return _xgetbv(0); }
#else
#include <cpuid.h>
static void wsfast_cpuid(unsigned leaf, unsigned sub, unsigned regs[4]) {
    __cpuid_count(leaf, sub, regs[0], regs[1], regs[2], regs[3]);
}
static uint64_t wsfast_xgetbv(void) {
    uint32_t eax, edx;
    /* Encoded as bytes: old assemblers lack the mnemonic. */
    __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

static unsigned detect(void) {
    unsigned regs[4];
    unsigned features = WSFAST_CPU_SSE2; /* part of the x86-64 baseline */

    wsfast_cpuid(0, 0, regs);
    unsigned max_leaf = regs[0];

    wsfast_cpuid(1, 0, regs);
    unsigned ecx1 = regs[2];
    if (ecx1 & (1u << 9)) features |= WSFAST_CPU_SSSE3;
    if (ecx1 & (1u << 19)) features |= WSFAST_CPU_SSE41;

    /* AVX2 needs the CPU bit, OSXSAVE, and the OS saving XMM (bit 1) and
     * YMM (bit 2) state. */
    int os_saves_ymm = (ecx1 & (1u << 27)) && ((wsfast_xgetbv() & 0x6) == 0x6);
    int cpu_has_avx = (ecx1 & (1u << 28)) != 0;
    if (max_leaf >= 7 && os_saves_ymm && cpu_has_avx) {
        wsfast_cpuid(7, 0, regs);
        if (regs[1] & (1u << 5)) features |= WSFAST_CPU_AVX2;
    }
    return features;
}
#elif defined(WSFAST_AARCH64)
static unsigned detect(void) { return WSFAST_CPU_NEON; }
#else
static unsigned detect(void) { return 0; }
#endif

unsigned wsfast_cpu_features(void) {
    /* Idempotent: a race between first callers computes the same value. */
    static unsigned cached;
    static int done;
    if (!done) {
        cached = detect();
        done = 1;
    }
    return cached;
}
