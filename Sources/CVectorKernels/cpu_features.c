// See include/CPUFeatures.h.
#include "CPUFeatures.h"
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

unsigned cpu_feature_bits(void) {
    unsigned a, b, c, d, bits = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (c & bit_SSE3) bits |= CPU_FEATURE_SSE3;
    int osxsave = (c & bit_OSXSAVE) != 0;
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    int avxState = (xcr0 & 0x6) == 0x6;          // XMM and YMM state
    int avx512State = avxState && (xcr0 & 0xe0) == 0xe0;  // opmask, ZMM_Hi256, Hi16_ZMM
    if (!avxState) return bits;
    if (c & bit_AVX) bits |= CPU_FEATURE_AVX;
    if (c & bit_FMA) bits |= CPU_FEATURE_FMA;
    unsigned maxLeaf = __get_cpuid_max(0, 0);
    if (maxLeaf < 7) return bits;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & bit_AVX2) bits |= CPU_FEATURE_AVX2;
    if (avx512State) {
        if (b & bit_AVX512F) bits |= CPU_FEATURE_AVX512F;
        if (b & bit_AVX512DQ) bits |= CPU_FEATURE_AVX512DQ;
        if (b & bit_AVX512BW) bits |= CPU_FEATURE_AVX512BW;
        if (b & bit_AVX512VL) bits |= CPU_FEATURE_AVX512VL;
        if (b & bit_AVX512CD) bits |= CPU_FEATURE_AVX512CD;
    }
    return bits;
}

void cpu_vendor(char *out) {
    unsigned a, b, c, d;
    out[0] = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return;
    memcpy(out, &b, 4);
    memcpy(out + 4, &d, 4);
    memcpy(out + 8, &c, 4);
    out[12] = 0;
}

static unsigned leaf1_eax(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    return a;
}

int cpu_family(void) {
    unsigned a = leaf1_eax();
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf) family += (a >> 20) & 0xff;
    return (int)family;
}

int cpu_model(void) {
    unsigned a = leaf1_eax();
    unsigned family = (a >> 8) & 0xf, model = (a >> 4) & 0xf;
    if (family == 0x6 || family == 0xf) model |= ((a >> 16) & 0xf) << 4;
    return (int)model;
}

#else
unsigned cpu_feature_bits(void) { return 0; }
void cpu_vendor(char *out) { out[0] = 0; }
int cpu_family(void) { return -1; }
int cpu_model(void) { return -1; }
#endif
