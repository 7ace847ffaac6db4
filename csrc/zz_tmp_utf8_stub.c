/* TEMPORARY (lead): weak stand-ins until utf8_*.c land. Delete me. */
#include "wsfast.h"
__attribute__((weak)) size_t wsfast_utf8_scalar(uint32_t *s, const unsigned char *d, size_t n) { (void)s; (void)d; return n; }
__attribute__((weak)) size_t wsfast_utf8_ssse3(uint32_t *s, const unsigned char *d, size_t n) { (void)s; (void)d; return n; }
__attribute__((weak)) size_t wsfast_utf8_avx2(uint32_t *s, const unsigned char *d, size_t n) { (void)s; (void)d; return n; }
