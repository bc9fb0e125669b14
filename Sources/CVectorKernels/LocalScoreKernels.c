// See include/LocalScoreKernels.h (Docs/LocalScores.md §3). Plain C, float64; exp from libm.
#include "LocalScoreKernels.h"
#include "VectorKernels.h"
#include <math.h>

void lsk_box_log_weights(long H, long W, long C, long r, const double *x, const double *a, double decay,
                         double inv2d, double *out, double *cum) {
    long W1 = W + 1;
    for (long j = 0; j < W1; j++) cum[j] = 0;
    for (long row = 0; row < H; row++) {
        double rowsum = 0;
        cum[(row + 1) * W1] = 0;
        for (long col = 0; col < W; col++) {
            const double *xp = x + (row * W + col) * C, *ap = a + (row * W + col) * C;
            double dsum = 0;
            for (long c = 0; c < C; c++) { double e = xp[c] - decay * ap[c]; dsum += e * e; }
            rowsum += dsum;
            cum[(row + 1) * W1 + col + 1] = cum[row * W1 + col + 1] + rowsum;
        }
    }
    for (long row = 0; row < H; row++) {
        long r0 = row - r < 0 ? 0 : row - r, r1 = row + r + 1 > H ? H : row + r + 1;
        for (long col = 0; col < W; col++) {
            long c0 = col - r < 0 ? 0 : col - r, c1 = col + r + 1 > W ? W : col + r + 1;
            double s = cum[r1 * W1 + c1] - cum[r0 * W1 + c1] - cum[r1 * W1 + c0] + cum[r0 * W1 + c0];
            out[row * W + col] = -inv2d * (s > 0 ? s : 0);
        }
    }
}

void lsk_im2col(long H, long W, long C, long P, const double *img, const long *pos, long count, int circular,
                double *out) {
    long r = (P - 1) / 2, dP = P * P * C;
    for (long k = 0; k < count; k++) {
        long row = pos[k] / W, col = pos[k] % W;
        double *o = out + k * dP;
        for (long dr = -r; dr <= r; dr++) {
            long rr = row + dr;
            int inside_r = rr >= 0 && rr < H;
            if (circular) { rr %= H; if (rr < 0) rr += H; inside_r = 1; }
            for (long dc = -r; dc <= r; dc++) {
                long cc = col + dc;
                int inside = inside_r && cc >= 0 && cc < W;
                if (circular) { cc %= W; if (cc < 0) cc += W; inside = 1; }
                if (inside) {
                    const double *p = img + (rr * W + cc) * C;
                    for (long c = 0; c < C; c++) o[c] = p[c];
                } else {
                    for (long c = 0; c < C; c++) o[c] = 0;
                }
                o += C;
            }
        }
    }
}

/// Merges a partial state (lm, l1, l2, ll, lc[C]) into pixel p's running state.
static inline void merge(long p, long C, double lm, double l1, double l2, double ll, const double *lc,
                         double *m, double *s1, double *s2, double *sl, double *sc) {
    double M = m[p];
    if (M == -INFINITY) {
        m[p] = lm; s1[p] = l1; s2[p] = l2; sl[p] = ll;
        for (long c = 0; c < C; c++) sc[p * C + c] = lc[c];
        return;
    }
    double nm = M > lm ? M : lm;
    double a = exp(M - nm), b = exp(lm - nm);
    sl[p] = a * (sl[p] + s1[p] * (M - nm)) + b * (ll + l1 * (lm - nm));
    s1[p] = a * s1[p] + b * l1;
    s2[p] = a * a * s2[p] + b * b * l2;
    for (long c = 0; c < C; c++) sc[p * C + c] = a * sc[p * C + c] + b * lc[c];
    m[p] = nm;
}

void lsk_merge_single(long npix, long C, const double *logw, const double *centre, double *m, double *s1,
                      double *s2, double *sl, double *sc) {
    for (long p = 0; p < npix; p++) {
        merge(p, C, logw[p], 1, 1, 0, centre + p * C, m, s1, s2, sl, sc);
    }
}

void lsk_merge_rows(long rows, long cols, const double *G, long ldg, const double *xn, const double *pn,
                    const double *centres, long C, double decay, double inv2d, const long *pix, double *m,
                    double *s1, double *s2, double *sl, double *sc, double *logMass, double *scratch) {
    double lc[64];
    double decay2 = decay * decay;
    for (long r = 0; r < rows; r++) {
        const double *g = G + r * ldg;
        double x2 = xn[r], lm = -INFINITY;
        for (long j = 0; j < cols; j++) {
            double d2 = x2 + decay2 * pn[j] - 2 * decay * g[j];
            double L = -inv2d * (d2 > 0 ? d2 : 0);
            scratch[j] = L;
            lm = L > lm ? L : lm;
        }
        for (long j = 0; j < cols; j++) scratch[j] -= lm;
        double *u = scratch + cols;   // L − lm, kept for the entropy term
        for (long j = 0; j < cols; j++) u[j] = scratch[j];
        vk_exp(scratch, scratch, cols);
        double l1 = 0, l2 = 0, ll = 0;
        for (long j = 0; j < cols; j++) { double e = scratch[j]; l1 += e; l2 += e * e; ll += e * u[j]; }
        for (long c = 0; c < C; c++) {
            double acc = 0;
            for (long j = 0; j < cols; j++) acc += scratch[j] * centres[j * C + c];
            lc[c] = acc;
        }
        logMass[r] = lm + log(l1);
        merge(pix[r], C, lm, l1, l2, ll, lc, m, s1, s2, sl, sc);
    }
}

void lsk_reduce_images(long n, long npix, long C, const double *L, const double *images, double *m, double *s1,
                       double *s2, double *sl, double *sc, double *scratch) {
    for (long p = 0; p < npix; p++) { m[p] = -INFINITY; s1[p] = 0; s2[p] = 0; sl[p] = 0; }
    for (long p = 0; p < npix * C; p++) sc[p] = 0;
    for (long mu = 0; mu < n; mu++) {
        const double *l = L + mu * npix;
        for (long p = 0; p < npix; p++) m[p] = l[p] > m[p] ? l[p] : m[p];
    }
    double *u = scratch + npix;
    for (long mu = 0; mu < n; mu++) {
        const double *l = L + mu * npix, *a = images + mu * npix * C;
        for (long p = 0; p < npix; p++) { u[p] = l[p] - m[p]; scratch[p] = u[p]; }
        vk_exp(scratch, scratch, npix);
        for (long p = 0; p < npix; p++) {
            double e = scratch[p];
            s1[p] += e; s2[p] += e * e; sl[p] += e * u[p];
        }
        for (long p = 0; p < npix; p++) for (long c = 0; c < C; c++) sc[p * C + c] += scratch[p] * a[p * C + c];
    }
}

void lsk_finish(long npix, long C, const double *m, const double *s1, const double *s2, const double *sl,
                const double *sc, double *mean, double *y2, double *entropy, double *lse) {
    for (long p = 0; p < npix; p++) {
        double inv = 1 / s1[p];
        for (long c = 0; c < C; c++) mean[p * C + c] = sc[p * C + c] * inv;
        y2[p] = s2[p] * inv * inv;
        entropy[p] = log(s1[p]) - sl[p] * inv;
        lse[p] = m[p] + log(s1[p]);
    }
}
