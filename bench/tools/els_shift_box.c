// Benchmark-only: the ELS_ref cross terms c(i; mu, j) = X_i . phi_{mu,j} (query window of pixel i
// with circular padding, phi every valid P x P patch of image mu) two ways, for the same triples:
//   gemm       im2col X_col (HW x P^2) times A_col^T (P^2 x Npos) per image, OpenBLAS dgemm (the
//              package's ELS path);
//   shift-box  for each shift s = j - i: the product image y_s(p) = x(p mod) a_mu(p + s) over the
//              rows/cols the valid pixels i need, its 2-D cumulative table, and c = the P x P box sum
//              at i (Docs/LocalScores.md §3 "Alternatives"; scalar C, a first prototype).
// Prints the CPU time of each over n Fashion-MNIST-like images (or random ones) and the largest
// difference. Only the cross terms: the exps and the log-sum-exp after them are the same for both.
// Build from the package root (x86-64; OpenBLAS headers from libopenblas-dev):
//   /opt/swift/usr/bin/clang -O3 -march=native -ISources/CVectorKernels/include -ISources/CVectorKernels \
//     bench/tools/els_shift_box.c Sources/CVectorKernels/VectorKernels.c Sources/CVectorKernels/cpu_features.c \
//     -lopenblas -lm -lpthread -o /tmp/els_shift_box
//   OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 /tmp/els_shift_box 200 3 [images.f64]
// (set OPENBLAS_CORETYPE as diffphys does on CPUs Debian's OpenBLAS 0.3.21 does not know, else dgemm
// runs on its Prescott kernels; images.f64: raw little-endian float64, n x 784).
#include "../../Sources/CVectorKernels/LocalScoreKernels.c"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

/// dots[i * Npos + k] for one image a (H x W), positions k = (jr − r)·Nj + (jc − r).
static void shift_box(long H, long W, long r, const double *x, const double *a, double *dots, double *table) {
    long Njr = H - 2 * r, Njc = W - 2 * r, Npos = Njr * Njc;
    for (long sr = r - (H - 1); sr <= H - 1 - r; sr++) {
        long ir0 = r - sr > 0 ? r - sr : 0, ir1 = H - 1 - r - sr < H - 1 ? H - 1 - r - sr : H - 1;
        if (ir0 > ir1) continue;
        for (long sc = r - (W - 1); sc <= W - 1 - r; sc++) {
            long ic0 = r - sc > 0 ? r - sc : 0, ic1 = W - 1 - r - sc < W - 1 ? W - 1 - r - sc : W - 1;
            if (ic0 > ic1) continue;
            long pr0 = ir0 - r, nr = ir1 - ir0 + 1 + 2 * r, pc0 = ic0 - r, nc = ic1 - ic0 + 1 + 2 * r, ld = nc + 1;
            for (long c = 0; c <= nc; c++) table[c] = 0;
            for (long u = 0; u < nr; u++) {
                long p = pr0 + u, xr = ((p % H) + H) % H;
                const double *arow = a + (p + sr) * W + sc;
                double run = 0;
                table[(u + 1) * ld] = 0;
                for (long v = 0; v < nc; v++) {
                    long q = pc0 + v, xc = q < 0 ? q + W : (q >= W ? q - W : q);
                    run += x[xr * W + xc] * arow[q];
                    table[(u + 1) * ld + v + 1] = table[u * ld + v + 1] + run;
                }
            }
            long P = 2 * r + 1;
            for (long ir = ir0; ir <= ir1; ir++) {
                long u0 = ir - ir0, u1 = u0 + P;
                for (long ic = ic0; ic <= ic1; ic++) {
                    long v0 = ic - ic0, v1 = v0 + P;
                    double s = table[u1 * ld + v1] - table[u0 * ld + v1] - table[u1 * ld + v0] + table[u0 * ld + v0];
                    dots[(ir * W + ic) * Npos + (ir + sr - r) * Njc + (ic + sc - r)] = s;
                }
            }
        }
    }
}

int main(int argc, char **argv) {
    long H = 28, W = 28, n = argc > 1 ? atol(argv[1]) : 200, P = argc > 2 ? atol(argv[2]) : 3, r = (P - 1) / 2;
    long hw = H * W, dP = P * P, Njr = H - 2 * r, Njc = W - 2 * r, Npos = Njr * Njc;
    double *img = malloc(n * hw * 8), *x = malloc(hw * 8);
    srand(1);
    if (argc > 3) { FILE *f = fopen(argv[3], "rb"); if (!f || fread(img, 8, n * hw, f) != (size_t)(n * hw)) return 1; fclose(f); }
    else for (long k = 0; k < n * hw; k++) img[k] = rand() / (double)RAND_MAX;
    for (long k = 0; k < hw; k++) x[k] = 0.74 * img[k] + 0.77 * 1.7320508 * (rand() / (double)RAND_MAX - 0.5);
    long *all = malloc(hw * sizeof(long)), *valid = malloc(Npos * sizeof(long));
    for (long k = 0; k < hw; k++) all[k] = k;
    for (long k = 0; k < Npos; k++) valid[k] = (k / Njc + r) * W + (k % Njc + r);
    double *Xc = malloc(hw * dP * 8), *Ac = malloc(Npos * dP * 8), *G = malloc(hw * Npos * 8), *S = malloc(hw * Npos * 8);
    double *table = malloc((3 * H + 1) * (3 * W + 1) * 8);
    lsk_im2col(H, W, 1, P, x, all, hw, 1, Xc);
    double tg = 0, ts = 0, diff = 0;
    for (long mu = 0; mu < n; mu++) {
        const double *a = img + mu * hw;
        double t0 = cpu();
        lsk_im2col(H, W, 1, P, a, valid, Npos, 0, Ac);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hw, Npos, dP, 1.0, Xc, dP, Ac, dP, 0.0, G, Npos);
        double t1 = cpu();
        shift_box(H, W, r, x, a, S, table);
        double t2 = cpu();
        tg += t1 - t0; ts += t2 - t1;
        for (long k = 0; k < hw * Npos; k += 97) { double d = fabs(G[k] - S[k]); if (d > diff) diff = d; }
    }
    printf("ELS_ref cross terms n=%ld P=%ld triples=%.3g: gemm %.4f s, shift-box %.4f s, shift-box/gemm %.2f, max |diff| %.1e\n",
           n, P, (double)n * hw * Npos, tg, ts, ts / tg, diff);
    return 0;
}
