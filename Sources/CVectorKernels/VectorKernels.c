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

void vk_exp(const double *x, double *out, long n) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: vk_exp_avx512(x, out, n); return;
    case 1: vk_exp_avx2(x, out, n); return;
    }
#endif
    vk_exp_base(x, out, n);
}

double vk_gaussian_log_weights(const double *dots, const float *dotsF, const double *a2, long n, double sx2, double s, double half, double *out) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: return vk_gaussian_log_weights_avx512(dots, dotsF, a2, n, sx2, s, half, out);
    case 1: return vk_gaussian_log_weights_avx2(dots, dotsF, a2, n, sx2, s, half, out);
    }
#endif
    return vk_gaussian_log_weights_base(dots, dotsF, a2, n, sx2, s, half, out);
}

void vk_squared_distances(const double *dots, const float *dotsF, const double *a2, long n, double sx2, double s, double *out) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: vk_squared_distances_avx512(dots, dotsF, a2, n, sx2, s, out); return;
    case 1: vk_squared_distances_avx2(dots, dotsF, a2, n, sx2, s, out); return;
    }
#endif
    vk_squared_distances_base(dots, dotsF, a2, n, sx2, s, out);
}

double vk_max(const double *w, long n) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: return vk_max_avx512(w, n);
    case 1: return vk_max_avx2(w, n);
    }
#endif
    return vk_max_base(w, n);
}

double vk_exp_shifted_sum(double *w, long n, double shift) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: return vk_exp_shifted_sum_avx512(w, n, shift);
    case 1: return vk_exp_shifted_sum_avx2(w, n, shift);
    }
#endif
    return vk_exp_shifted_sum_base(w, n, shift);
}

void vk_normalise(double *w, float *wf, long n, double inv, double *y2, double *wmax, long *argmax) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: vk_normalise_avx512(w, wf, n, inv, y2, wmax, argmax); return;
    case 1: vk_normalise_avx2(w, wf, n, inv, y2, wmax, argmax); return;
    }
#endif
    vk_normalise_base(w, wf, n, inv, y2, wmax, argmax);
}

double vk_sum(const double *w, long n) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: return vk_sum_avx512(w, n);
    case 1: return vk_sum_avx2(w, n);
    }
#endif
    return vk_sum_base(w, n);
}

double vk_dot(const double *a, const double *b, long n) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: return vk_dot_avx512(a, b, n);
    case 1: return vk_dot_avx2(a, b, n);
    }
#endif
    return vk_dot_base(a, b, n);
}

void vk_linear_combination(const double *x, double a, const double *y, double b, double *out, long n) {
#ifdef VK_HAS_LEVELS
    switch (vk_level()) {
    case 2: vk_linear_combination_avx512(x, a, y, b, out, n); return;
    case 1: vk_linear_combination_avx2(x, a, y, b, out, n); return;
    }
#endif
    vk_linear_combination_base(x, a, y, b, out, n);
}
