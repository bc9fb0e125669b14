// See include/VectorKernels.h. The bodies (VectorKernelsBody.inc) are written with GCC/Clang
// vector extensions, eight doubles per vector, and compiled here once per instruction-set level:
// AVX-512, AVX2 + FMA, and the baseline. Products followed by sums contract to FMA where the level
// has it. Each public entry point dispatches on the CPU's features (detected once).
#include "VectorKernels.h"
#include <string.h>

#pragma STDC FP_CONTRACT ON
// The helpers pass eight-double vectors by value; all are static and inlined, so no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"

typedef double v8d __attribute__((vector_size(64)));
typedef long long v8l __attribute__((vector_size(64)));
typedef unsigned long long v8u __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));

#define VK(name) name##_base
#include "VectorKernelsBody.inc"
#undef VK

#if defined(__x86_64__) && defined(__clang__)
#define VK_HAS_LEVELS 1
#pragma clang attribute push (__attribute__((target("avx2,fma"))), apply_to = function)
#define VK(name) name##_avx2
#include "VectorKernelsBody.inc"
#undef VK
#pragma clang attribute pop

#pragma clang attribute push (__attribute__((target("avx512f,avx512dq,avx2,fma"))), apply_to = function)
#define VK(name) name##_avx512
#include "VectorKernelsBody.inc"
#undef VK
#pragma clang attribute pop
#endif

/// 0 = baseline, 1 = AVX2 + FMA, 2 = AVX-512.
static int vk_level(void) {
#ifdef VK_HAS_LEVELS
    static int level = -1;
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) l = 2;
        else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) l = 1;
        else l = 0;
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
#else
    return 0;
#endif
}

int vk_instruction_level(void) { return vk_level(); }

// Each entry point runs its body at the level of this CPU.
#ifdef VK_HAS_LEVELS
#define VK_DISPATCH(name, ...) \
    switch (vk_level()) { \
    case 2: return name##_avx512(__VA_ARGS__); \
    case 1: return name##_avx2(__VA_ARGS__); \
    } \
    return name##_base(__VA_ARGS__)
#define VK_DISPATCH_VOID(name, ...) \
    switch (vk_level()) { \
    case 2: name##_avx512(__VA_ARGS__); return; \
    case 1: name##_avx2(__VA_ARGS__); return; \
    } \
    name##_base(__VA_ARGS__)
#else
#define VK_DISPATCH(name, ...) return name##_base(__VA_ARGS__)
#define VK_DISPATCH_VOID(name, ...) name##_base(__VA_ARGS__)
#endif

void vk_exp(const double *x, double *out, long n) { VK_DISPATCH_VOID(vk_exp, x, out, n); }

double vk_gaussian_log_weights(const double *dots, const float *dotsF, const double *a2, long n,
                               double sx2, double s, double half, double *out) {
    VK_DISPATCH(vk_gaussian_log_weights, dots, dotsF, a2, n, sx2, s, half, out);
}

void vk_squared_distances(const double *dots, const float *dotsF, const double *a2, long n,
                          double sx2, double s, double *out) {
    VK_DISPATCH_VOID(vk_squared_distances, dots, dotsF, a2, n, sx2, s, out);
}

double vk_max(const double *w, long n) { VK_DISPATCH(vk_max, w, n); }

double vk_exp_shifted_sum(double *w, long n, double shift) { VK_DISPATCH(vk_exp_shifted_sum, w, n, shift); }

void vk_normalise(double *w, float *wf, long n, double inv, double *y2, double *wmax, long *argmax) {
    VK_DISPATCH_VOID(vk_normalise, w, wf, n, inv, y2, wmax, argmax);
}

double vk_sum(const double *w, long n) { VK_DISPATCH(vk_sum, w, n); }

double vk_dot(const double *a, const double *b, long n) { VK_DISPATCH(vk_dot, a, b, n); }

void vk_linear_combination(const double *x, double a, const double *y, double b, double *out, long n) {
    VK_DISPATCH_VOID(vk_linear_combination, x, a, y, b, out, n);
}
