// The CPU's instruction-set features as the operating system lets a process use them (cpuid plus
// the XCR0 register for the AVX and AVX-512 register state). GSLKit's BLASCore reads them to pick
// OpenBLAS kernels when OpenBLAS falls back to a generic core on a CPU it does not recognise.
#ifndef DIFFPHYS_CPU_FEATURES_H
#define DIFFPHYS_CPU_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

/// Bits of `cpu_feature_bits()`.
enum {
    CPU_FEATURE_SSE3 = 1 << 0,
    CPU_FEATURE_AVX = 1 << 1,
    CPU_FEATURE_AVX2 = 1 << 2,
    CPU_FEATURE_FMA = 1 << 3,
    CPU_FEATURE_AVX512F = 1 << 4,
    CPU_FEATURE_AVX512DQ = 1 << 5,
    CPU_FEATURE_AVX512BW = 1 << 6,
    CPU_FEATURE_AVX512VL = 1 << 7,
    CPU_FEATURE_AVX512CD = 1 << 8,
};

/// The usable features of this CPU: a feature counts only when cpuid reports it AND the OS saves
/// its register state (OSXSAVE, XCR0 bits 1–2 for AVX, 5–7 for AVX-512). 0 off x86-64.
unsigned cpu_feature_bits(void);

/// Vendor string from cpuid leaf 0 ("GenuineIntel", "AuthenticAMD", …) into `out` (≥ 13 bytes);
/// the empty string off x86-64.
void cpu_vendor(char *out);

/// Family and model as Intel documents them (extended family/model folded in); -1 off x86-64.
int cpu_family(void);
int cpu_model(void);

#ifdef __cplusplus
}
#endif
#endif
