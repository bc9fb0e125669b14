#!/usr/bin/env python3
"""Export samples, trajectories and clones from a diffusion sampler in the formats
`diffphys analyze` reads (Docs/YourData.md). numpy only.

A "model" stands in for a trained network: the exact score of the training set smoothed by a
Gaussian kernel of width --smoothing (the exact score of a kernel density estimate; 0 gives the
exact empirical score, which memorises) plus optional Gaussian error --noise on its denoiser.
The sampler is DDPM ancestral sampling on the authors' clock (L = 1000 steps, beta linear from
1e-4 to 2e-2), so times are exported as DDPM step indices k (--time-convention ddpm-steps) and as
alphabar_k (--time-convention ddpm-alphabar).

Writes into --out (default ./analyze-example):
  train.npy          n x d training set        train-labels.npy   n labels (integers)
  samples.npy        B x d final samples
  trajectories.npy   B x K x d states x_k       steps.npy / alphabar.npy   the K times
  clones.npy         K' x P x 2 x d endpoints   clone-steps.npy            the K' branch steps

Then:
  diffphys analyze samples      OUT/samples.npy      --data OUT/train.npy --labels OUT/train-labels.npy
  diffphys analyze trajectories OUT/trajectories.npy --times OUT/steps.npy --time-convention ddpm-steps --data OUT/train.npy --labels OUT/train-labels.npy
  diffphys analyze clones       OUT/clones.npy       --times OUT/clone-steps.npy --time-convention ddpm-steps --data OUT/train.npy --labels OUT/train-labels.npy
"""
import argparse
import os

import numpy as np


def schedule(L=1000, beta_start=1e-4, beta_end=2e-2):
    beta = np.linspace(beta_start, beta_end, L)
    alphabar = np.exp(np.cumsum(np.log1p(-beta)))
    return beta, alphabar


def denoiser(x, alphabar, train, smoothing, noise, rng):
    """E[x0 | x_k] for the training set smoothed by N(0, smoothing^2 I) (exact for that law),
    plus Gaussian error of size `noise` (a stand-in for a network's error)."""
    c, v = np.sqrt(alphabar), 1.0 - alphabar           # x_k = c x0 + sqrt(v) eps
    s2 = smoothing ** 2
    var = v + c * c * s2                                # variance of each mixture component
    d2 = (x * x).sum(1)[:, None] - 2 * c * x @ train.T + c * c * (train * train).sum(1)[None, :]
    logw = -0.5 * d2 / var
    logw -= logw.max(1, keepdims=True)
    w = np.exp(logw)
    w /= w.sum(1, keepdims=True)
    mean = w @ train                                    # sum_mu w_mu a_mu
    # Within a component, E[x0 | x] = a + (c s2 / var)(x - c a).
    x0 = mean + (c * s2 / var) * (x - c * mean)
    if noise > 0:
        x0 = x0 + noise * rng.standard_normal(x0.shape)
    return x0


def run(x, k_from, beta, alphabar, train, smoothing, noise, rng, record=None):
    """DDPM ancestral steps from step k_from down to 0; returns x0-hat at the end.
    `record`: a set of steps whose states x_k are kept (returned in decreasing k)."""
    kept = []
    for k in range(k_from, -1, -1):
        if record is not None and k in record:
            kept.append(x.copy())
        x0 = denoiser(x, alphabar[k], train, smoothing, noise, rng)
        if k == 0:
            x = x0
            break
        ab_prev = alphabar[k - 1]
        coef0 = np.sqrt(ab_prev) * beta[k] / (1 - alphabar[k])
        coefk = np.sqrt(1 - beta[k]) * (1 - ab_prev) / (1 - alphabar[k])
        sigma = np.sqrt(beta[k] * (1 - ab_prev) / (1 - alphabar[k]))
        x = coef0 * x0 + coefk * x + sigma * rng.standard_normal(x.shape)
    return x, kept


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="analyze-example")
    p.add_argument("--n", type=int, default=200, help="training points (two blobs)")
    p.add_argument("--d", type=int, default=20, help="dimension")
    p.add_argument("--batch", type=int, default=200, help="samples / trajectories")
    p.add_argument("--pairs", type=int, default=200, help="clone pairs per branch time")
    p.add_argument("--smoothing", type=float, default=0.3, help="kernel width of the model (0: exact score)")
    p.add_argument("--noise", type=float, default=0.0, help="Gaussian error added to the denoiser")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.out, exist_ok=True)

    # Two Gaussian blobs at +-m, |m|^2 = d (the two-Gaussian model of Docs/Theory.md section 2.2).
    labels = np.arange(a.n) % 2
    train = (2 * labels[:, None] - 1) * np.ones(a.d) + rng.standard_normal((a.n, a.d))
    np.save(os.path.join(a.out, "train.npy"), train)
    np.save(os.path.join(a.out, "train-labels.npy"), labels.astype(np.int64))

    beta, alphabar = schedule()
    L = len(beta)
    record = list(range(L - 1, -1, -20)) + [0]          # steps kept on the trajectories (decreasing)
    record = sorted(set(record), reverse=True)

    x = rng.standard_normal((a.batch, a.d))
    samples, kept = run(x, L - 1, beta, alphabar, train, a.smoothing, a.noise, rng, set(record))
    np.save(os.path.join(a.out, "samples.npy"), samples)
    np.save(os.path.join(a.out, "trajectories.npy"), np.stack(kept, axis=1))       # B x K x d
    np.save(os.path.join(a.out, "steps.npy"), np.array(record, dtype=np.int64))
    np.save(os.path.join(a.out, "alphabar.npy"), alphabar[record])

    # Clones: one trunk per pair; at each branch step two copies continue with independent noise.
    branch = [999, 700, 500, 400, 300, 250, 200, 150, 100, 50]
    x = rng.standard_normal((a.pairs, a.d))
    k_prev = L - 1
    out = []
    for kb in branch:
        if kb < k_prev:   # advance the trunk from k_prev to kb (stop before denoising at kb)
            for k in range(k_prev, kb, -1):
                x0 = denoiser(x, alphabar[k], train, a.smoothing, a.noise, rng)
                ab_prev = alphabar[k - 1]
                x = (np.sqrt(ab_prev) * beta[k] / (1 - alphabar[k]) * x0
                     + np.sqrt(1 - beta[k]) * (1 - ab_prev) / (1 - alphabar[k]) * x
                     + np.sqrt(beta[k] * (1 - ab_prev) / (1 - alphabar[k])) * rng.standard_normal(x.shape))
        k_prev = kb
        ea, _ = run(x.copy(), kb, beta, alphabar, train, a.smoothing, a.noise, rng)
        eb, _ = run(x.copy(), kb, beta, alphabar, train, a.smoothing, a.noise, rng)
        out.append(np.stack([ea, eb], axis=1))                                     # P x 2 x d
    np.save(os.path.join(a.out, "clones.npy"), np.stack(out, axis=0))              # K' x P x 2 x d
    np.save(os.path.join(a.out, "clone-steps.npy"), np.array(branch, dtype=np.int64))
    print(f"wrote {a.out}/: train {train.shape}, samples {samples.shape}, trajectories "
          f"{np.stack(kept, axis=1).shape}, clones {np.stack(out, axis=0).shape}")


if __name__ == "__main__":
    main()
