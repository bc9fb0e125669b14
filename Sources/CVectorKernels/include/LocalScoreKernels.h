// Loops of the local (LS) and equivariant local (ELS) exact scores (Docs/LocalScores.md §3), the hot
// ones compiled per instruction-set level and dispatched at run time like VectorKernels.h.
// Only GSLKit calls these (Sources/GSLKit/LocalPosteriorKernel.swift); every pointer is a buffer
// GSLKit owns. Images are row-major H × W × C; pixel p = row·W + col. Lengths are element counts.
#ifndef DIFFPHYS_LOCAL_SCORE_KERNELS_H
#define DIFFPHYS_LOCAL_SCORE_KERNELS_H

#ifdef __cplusplus
extern "C" {
#endif

/// The LS posterior over n images in one pass per image (Docs/LocalScores.md §3): per image a,
/// D(p) = Σ_c (x(p,c) − decay·a(p,c))², L(i) = −inv2d · Σ_{p ∈ Ω_i ∩ image} D(p) by column
/// cumulative sums and row prefix sums (box sums: cost independent of P), Ω_i the (2r+1)² window
/// centred on i (zero padding = truncation), then an online log-sum-exp merge of L into the
/// per-pixel state (m, s1, s2, sl, sc) as in lsk_merge_single (one exp per pixel and image). The
/// state is overwritten (no initialisation needed; n ≥ 1). If logw is non-null it receives L
/// (n × H·W). scratch holds lsk_ls_scratch(H, W, C, r) doubles.
void lsk_ls_posterior(long H, long W, long C, long r, const double *x, const double *images, long n, double decay,
                      double inv2d, double *m, double *s1, double *s2, double *sl, double *sc, double *logw,
                      double *scratch);
long lsk_ls_scratch(long H, long W, long C, long r);

/// LS log weights of one image by the difference form and 2-D box sums (cost independent of P):
/// D(p) = Σ_c (x(p,c) − decay·a(p,c))², out[i] = −inv2d · Σ_{p ∈ Ω_i ∩ image} D(p), Ω_i the
/// (2r+1)² window centred on i (zero padding = truncation). `cum` holds (H+1)(W+1) doubles.
void lsk_box_log_weights(long H, long W, long C, long r, const double *x, const double *a, double decay,
                         double inv2d, double *out, double *cum);

/// Patches of `img` (H × W × C) centred at the `count` pixels `pos`, P × P × C each in (row offset,
/// col offset, channel) order, into out (count × P²C). Outside the image: 0 (circular = 0) or the
/// periodic continuation (circular = 1).
void lsk_im2col(long H, long W, long C, long P, const double *img, const long *pos, long count, int circular,
                double *out);

/// Per-pixel online log-sum-exp state (length npix; sc npix·C): running max m, s1 = Σ e^{L−m},
/// s2 = Σ e^{2(L−m)}, sl = Σ e^{L−m}(L−m), sc = Σ e^{L−m} φ(0). Initialise m = −∞, the rest 0.
/// Merges one entry per pixel: log weight logw[p] with centre value centre[p·C + c].
void lsk_merge_single(long npix, long C, const double *logw, const double *centre, double *m, double *s1,
                      double *s2, double *sl, double *sc);

/// Merges a block of `cols` entries into `rows` pixels (global indices pix[r]). With
/// d² = max(0, xn[r] + decay²·pn[j] − 2·decay·G[r·ldg + j]), L = −inv2d·d²; centre of entry j is
/// centres[j·C + c]. logMass[r] receives ln Σ_j e^{L_rj} (the block's mass at that pixel).
/// scratch holds lsk_merge_rows_scratch(cols, C) doubles.
void lsk_merge_rows(long rows, long cols, const double *G, long ldg, const double *xn, const double *pn,
                    const double *centres, long C, double decay, double inv2d, const long *pix, double *m,
                    double *s1, double *s2, double *sl, double *sc, double *logMass, double *scratch);
long lsk_merge_rows_scratch(long cols, long C);

/// Final per-pixel summaries: mean[p·C + c] = sc/s1, y2 = s2/s1², entropy = ln s1 − sl/s1,
/// lse = m + ln s1.
void lsk_finish(long npix, long C, const double *m, const double *s1, const double *s2, const double *sl,
                const double *sc, double *mean, double *y2, double *entropy, double *lse);

#ifdef __cplusplus
}
#endif
#endif
