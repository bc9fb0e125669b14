// See include/VectorKernels.h. The bodies (VectorKernelsBody.inc) are written with GCC/Clang
// vector extensions, eight doubles per vector, and compiled once per instruction-set level by
// VectorLevels.inc: AVX-512, AVX2 + FMA, and the baseline. Products followed by sums contract to FMA
// where the level has it. Each public entry point dispatches on the CPU's features (detected once).
#include "VectorKernels.h"
#include "VectorTypes.h"

// ---- Ziggurat tables and the scalar parts of the lane Gaussian streams (baseline code, shared by
// every level so that all levels draw the same numbers) ----
#include <math.h>
#include <pthread.h>

#define VK_GAUSS_WORDS 32
#define VK_ZIG_C 256
#define VK_ZIG_R 3.6541528853610088
#define VK_ZIG_V 0.00492867323399
static double vk_zig_x[VK_ZIG_C + 1], vk_zig_ratio[VK_ZIG_C], vk_zig_f[VK_ZIG_C + 1];
static pthread_once_t vk_zig_once = PTHREAD_ONCE_INIT;

/// Doornik (2005), "An improved ziggurat method to generate normal random samples": 256 layers of
/// equal area V; layer 0 is the base strip with the tail beyond R.
static void vk_zig_build(void) {
    double f = exp(-0.5 * VK_ZIG_R * VK_ZIG_R);
    vk_zig_x[0] = VK_ZIG_V / f;
    vk_zig_x[1] = VK_ZIG_R;
    vk_zig_x[VK_ZIG_C] = 0;
    for (int i = 2; i < VK_ZIG_C; i++) {
        vk_zig_x[i] = sqrt(-2 * log(VK_ZIG_V / vk_zig_x[i - 1] + f));
        f = exp(-0.5 * vk_zig_x[i] * vk_zig_x[i]);
    }
    for (int i = 0; i < VK_ZIG_C; i++) vk_zig_ratio[i] = vk_zig_x[i + 1] / vk_zig_x[i];
    for (int i = 0; i <= VK_ZIG_C; i++) vk_zig_f[i] = exp(-0.5 * vk_zig_x[i] * vk_zig_x[i]);
}
static void vk_zig_init(void) { pthread_once(&vk_zig_once, vk_zig_build); }

static inline unsigned long long vk_rotl(unsigned long long x, int k) { return (x << k) | (x >> (64 - k)); }

/// One xoshiro256++ output of lane l (state word-major: s[w·8 + l]).
static unsigned long long vk_xoshiro_lane(unsigned long long *s, int l) {
    unsigned long long s0 = s[l], s1 = s[8 + l], s2 = s[16 + l], s3 = s[24 + l];
    unsigned long long r = vk_rotl(s0 + s3, 23) + s0, t = s1 << 17;
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t; s3 = vk_rotl(s3, 45);
    s[l] = s0; s[8 + l] = s1; s[16 + l] = s2; s[24 + l] = s3;
    return r;
}

/// Uniform on (0, 1) from lane l.
static double vk_uniform_lane(unsigned long long *s, int l) {
    return ((double)(vk_xoshiro_lane(s, l) >> 11) + 0.5) * 0x1.0p-53;
}

/// The ziggurat's slow path for lane l, after the fast test failed for (u, idx): the tail beyond R
/// (Marsaglia's exponential method) for the base strip, the wedge test otherwise, redrawing from
/// lane l until a value is accepted.
static double vk_zig_slow(unsigned long long *s, int l, double u, int idx) {
    for (;;) {
        if (fabs(u) < vk_zig_ratio[idx]) return u * vk_zig_x[idx];
        if (idx == 0) {
            double x, y;
            do {
                x = log(vk_uniform_lane(s, l)) / VK_ZIG_R;
                y = log(vk_uniform_lane(s, l));
            } while (-2 * y < x * x);
            return u < 0 ? x - VK_ZIG_R : VK_ZIG_R - x;
        }
        // The wedge: accept x when a uniform height under the layer, f(x_{i+1}) + U (f(x_i) − f(x_{i+1})),
        // lies below the density f(x) = e^{−x²/2} (Doornik's test multiplied through by f(x)).
        double x = u * vk_zig_x[idx];
        double f0 = vk_zig_f[idx], f1 = vk_zig_f[idx + 1];
        if (f1 + vk_uniform_lane(s, l) * (f0 - f1) < exp(-0.5 * x * x)) return x;
        unsigned long long r = vk_xoshiro_lane(s, l);
        unsigned long long ub = (r >> 12) | 0x3FF0000000000000ULL;
        double v;
        memcpy(&v, &ub, 8);
        u = (v + v) - 3.0;
        idx = (int)(r & (VK_ZIG_C - 1));
    }
}

/// One standard normal from lane l (the scalar form of one lane of gauss8).
static double vk_gauss_lane(unsigned long long *s, int l) {
    unsigned long long r = vk_xoshiro_lane(s, l);
    unsigned long long ub = (r >> 12) | 0x3FF0000000000000ULL;
    double v;
    memcpy(&v, &ub, 8);
    double u = (v + v) - 3.0;
    int idx = (int)(r & (VK_ZIG_C - 1));
    if (fabs(u) < vk_zig_ratio[idx]) return u * vk_zig_x[idx];
    return vk_zig_slow(s, l, u, idx);
}

/// 0 = baseline, 1 = AVX2 + FMA, 2 = AVX-512.
static int vk_level(void) {
#if defined(__x86_64__) && defined(__clang__)
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

#define VK_LEVEL() vk_level()
#define VK_BODY "VectorKernelsBody.inc"
#include "VectorLevels.inc"

int vk_instruction_level(void) { return vk_level(); }

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

void vk_gauss_seed(unsigned long long *state, unsigned long long key) {
    vk_zig_init();
    unsigned long long z = key;
    for (int w = 0; w < VK_GAUSS_WORDS; w++) {
        z += 0x9E3779B97F4A7C15ULL;
        unsigned long long v = z;
        v = (v ^ (v >> 30)) * 0xBF58476D1CE4E5B9ULL;
        v = (v ^ (v >> 27)) * 0x94D049BB133111EBULL;
        state[w] = v ^ (v >> 31);
    }
    for (int l = 0; l < 8; l++) {
        if ((state[l] | state[8 + l] | state[16 + l] | state[24 + l]) == 0) state[l] = 1;
    }
}

void vk_gauss_fill(unsigned long long *state, double *out, long n) {
    vk_zig_init();
    VK_DISPATCH_VOID(vk_gauss_fill, state, out, n);
}

void vk_gauss_fill_baseline(unsigned long long *state, double *out, long n) {
    vk_zig_init();
    vk_gauss_fill_base(state, out, n);
}

void vk_gauss_affine_rows(unsigned long long *states, double *x, long rows, long n, const double *m,
                          const double *u, double a, const double *b, double c, double *proj) {
    vk_zig_init();
    VK_DISPATCH_VOID(vk_gauss_affine_rows, states, x, rows, n, m, u, a, b, c, proj);
}
