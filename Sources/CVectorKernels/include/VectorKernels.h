// Vector kernels of the posterior engine's softmax, compiled once per x86-64 micro-architecture
// level (function multi-versioning: x86-64-v4 = AVX-512, v3 = AVX2 + FMA, baseline SSE2) and
// chosen at load time by the dynamic linker. Other architectures get one portable build.
//
// Only GSLKit calls these (Sources/GSLKit/PosteriorKernel.swift); every pointer is a row of a
// buffer that GSLKit owns. Lengths are element counts.
#ifndef DIFFPHYS_VECTOR_KERNELS_H
#define DIFFPHYS_VECTOR_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// The instruction-set level the kernels run at: 0 baseline, 1 AVX2 + FMA, 2 AVX-512.
int vk_instruction_level(void);

/// out[i] = e^{x[i]} for i < n: Cody–Waite reduction and a degree-13 Taylor polynomial,
/// ≤ 2 ulp on [−708, 709]; inputs below −708 flush to 0; NaN propagates.
void vk_exp(const double *x, double *out, long n);

/// Gaussian log weights from inner products: with d² = max(0, sx2 + a2[μ] − 2 s·dot[μ]),
/// out[μ] = −d²·half. `dots` is read as float64 unless `dotsF` is non-null (float32 products).
/// Returns max_μ out[μ].
double vk_gaussian_log_weights(const double *dots, const float *dotsF, const double *a2, long n,
                               double sx2, double s, double half, double *out);

/// Squared distances from inner products: out[μ] = max(0, sx2 + a2[μ] − 2 s·dot[μ]).
void vk_squared_distances(const double *dots, const float *dotsF, const double *a2, long n,
                          double sx2, double s, double *out);

/// Maximum of w[0..<n] (−∞ for n = 0).
double vk_max(const double *w, long n);

/// w[μ] ← e^{w[μ] − shift}; returns Σ_μ w[μ].
double vk_exp_shifted_sum(double *w, long n, double shift);

/// w[μ] ← w[μ]·inv (and wf[μ] ← float(w[μ]) if wf is non-null); *y2 = Σ w², *wmax = max w,
/// *argmax = first index holding the maximum.
void vk_normalise(double *w, float *wf, long n, double inv, double *y2, double *wmax, long *argmax);

/// Σ w[0..<n].
double vk_sum(const double *w, long n);

/// Σ a[i]·b[i].
double vk_dot(const double *a, const double *b, long n);

/// out[i] = a·x[i] + b·y[i].
void vk_linear_combination(const double *x, double a, const double *y, double b, double *out, long n);

/// Words of state of one lane Gaussian stream (eight xoshiro256++ lanes of four words, word-major).
#define VK_GAUSS_STATE_WORDS 32

/// Seeds one lane Gaussian stream (32 words) from a 64-bit key by SplitMix64.
void vk_gauss_seed(unsigned long long *state, unsigned long long key);

/// n standard normals from one stream: output j draws from lane j mod 8 (Doornik's 128-layer
/// ziggurat on xoshiro256++). The numbers do not depend on the instruction-set level.
void vk_gauss_fill(unsigned long long *state, double *out, long n);

/// The same at the baseline level (a reference for tests).
void vk_gauss_fill_baseline(unsigned long long *state, double *out, long n);

/// For each row r < rows of the rows × n matrix x (stream r at states + 32r):
/// x_r ← a·x_r + b[r]·m + c·ξ_r with ξ_r drawn as by vk_gauss_fill, and proj[r] = Σ_j u[j]·x_r[j]
/// (after the update).
void vk_gauss_affine_rows(unsigned long long *states, double *x, long rows, long n, const double *m,
                          const double *u, double a, const double *b, double c, double *proj);

#ifdef __cplusplus
}
#endif
#endif
