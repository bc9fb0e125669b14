// See include/LocalScoreKernels.h (Docs/LocalScores.md §3). Plain C, float64. The hot loops
// (LocalScoreKernelsBody.inc) are compiled per instruction-set level by the softmax kernels'
// mechanism (VectorLevels.inc) and share their vector exp (VectorPrimitives.inc); the rest is
// baseline code.
#include "LocalScoreKernels.h"
#include "VectorKernels.h"
#include "VectorTypes.h"
#include <math.h>

#define VK_BODY "LocalScoreKernelsBody.inc"
#include "VectorLevels.inc"

// Used by the per-pixel collapse engine (LocalCollapse.swift): the t-independent box sums.
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

/// Per row r of the block: lm = max_j L_rj and l1, l2, ll, lc[C] as in lsk_merge_rows (relative to lm).
static void lsk_block_rows(long rows, long cols, const double *G, long ldg, const double *xn, const double *pn,
                           const double *centres, long C, double decay, double inv2d, double *lm, double *l1, double *l2,
                           double *ll, double *lc, double *scratch) {
    VK_DISPATCH_VOID(lsk_block_rows, rows, cols, G, ldg, xn, pn, centres, C, decay, inv2d, lm, l1, l2, ll, lc, scratch);
}

void lsk_merge_rows(long rows, long cols, const double *G, long ldg, const double *xn, const double *pn,
                    const double *centres, long C, double decay, double inv2d, const long *pix, double *m,
                    double *s1, double *s2, double *sl, double *sc, double *logMass, double *scratch) {
    // scratch: cols for the row, then 4 + C per row block of up to 64 rows.
    enum { BLOCK = 64 };
    double *lm = scratch + cols, *l1 = lm + BLOCK, *l2 = l1 + BLOCK, *ll = l2 + BLOCK, *lc = ll + BLOCK;
    for (long r0 = 0; r0 < rows; r0 += BLOCK) {
        long nr = rows - r0 < BLOCK ? rows - r0 : BLOCK;
        lsk_block_rows(nr, cols, G + r0 * ldg, ldg, xn + r0, pn, centres, C, decay, inv2d, lm, l1, l2, ll, lc, scratch);
        for (long k = 0; k < nr; k++) {
            logMass[r0 + k] = lm[k] + log(l1[k]);
            merge(pix[r0 + k], C, lm[k], l1[k], l2[k], ll[k], lc + k * C, m, s1, s2, sl, sc);
        }
    }
}

long lsk_merge_rows_scratch(long cols, long C) { return cols + 64 * (4 + C); }

long lsk_ls_scratch(long H, long W, long C, long r) {
    long rv = r < H - 1 ? r : H - 1, rh = r < W - 1 ? r : W - 1;
    long S = (W + 2 * rh + 1 + 7) & ~7L, hw = H * W;
    (void)C;
    return (W + 8) + (H + 2 * rv + 1) * W + (W + 8) + H * S + 8 + 3 * (hw + 8) + S + 8;  // + S/8 masks of 8 words, aligned slack
}

void lsk_ls_posterior(long H, long W, long C, long r, const double *x, const double *images, long n, double decay,
                      double inv2d, double *m, double *s1, double *s2, double *sl, double *sc, double *logw,
                      double *scratch) {
    VK_DISPATCH_VOID(lsk_ls_posterior, H, W, C, r, x, images, n, decay, inv2d, m, s1, s2, sl, sc, logw, scratch);
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
