#!/usr/bin/env python3
"""numpy reference for `diffphys bench --local`: one sample-step of the local machines (per-pixel
posterior mean, Y2 and entropy at one noisy image), written the fast numpy way of
Docs/LocalScores.md §3 ("Algorithms"):

  LS      difference form D = (x - e^{-t} a)^2 for all images at once, 2-D cumulative sums with a zero
          border, box sums by the four corners (cost independent of P), one exp per (pixel, image).
  els     ELS as in the reference code: the query window wraps around (circular padding), the
          dictionary is every valid (fully inside) P x P patch of every image; im2col GEMM
          X_col A_col^T in blocks of images with an online per-pixel log-sum-exp.
  bbels   boundary-broken ELS: per signature class (distances to the four borders, capped at r), the
          class's zero-padded patches of every image; the same blocked GEMM + online log-sum-exp.

Serve mode (used by `diffphys bench --local --python PY`, which interleaves one request per
repetition with its own timings): one JSON request per stdin line
  {"machine": "ls", "n": 2000, "H": 28, "W": 28, "P": 3, "t": 0.3,
   "images": "/tmp/…/images2000.npy", "x": "/tmp/…/x.npy", "values": true}
(float64 .npy files: n x H*W images, H*W noisy image) -> one JSON line
  {"seconds": s, "mean": [...], "y2": [...], "entropy": [...]}  (the arrays only if "values").
"""
import json
import sys
import time

import numpy as np


def ls_step(x, A, H, W, P, t):
    n = A.shape[0]
    r = (P - 1) // 2
    e, delta = np.exp(-t), -np.expm1(-2 * t)
    D = (x[None] - e * A).reshape(n, H, W)
    D *= D
    cum = np.zeros((n, H + 1, W + 1))
    np.cumsum(D, axis=1, out=cum[:, 1:, 1:])
    np.cumsum(cum[:, 1:, 1:], axis=2, out=cum[:, 1:, 1:])
    # Edge padding of the cumulative table = clamping the corner indices, so the four corners are slices.
    ce = np.pad(cum, ((0, 0), (r, r), (r, r)), mode="edge")
    k = 2 * r + 1
    box = ce[:, k:k + H, k:k + W] - ce[:, :H, k:k + W]
    box -= ce[:, k:k + H, :W]
    box += ce[:, :H, :W]
    np.maximum(box, 0, out=box)
    U = box.reshape(n, H * W)
    U *= -1 / (2 * delta)                      # the log weights L
    U -= U.max(axis=0)                         # L - max over images, per pixel
    E = np.exp(U)
    s1 = E.sum(axis=0)
    mean = np.einsum("ij,ij->j", E, A) / s1
    y2 = np.einsum("ij,ij->j", E, E) / s1 ** 2
    entropy = np.log(s1) - np.einsum("ij,ij->j", E, U) / s1
    return mean, y2, entropy


def windows(img, H, W, P, mode):
    """All P x P windows centred on every pixel of img (H x W), rows (H*W, P*P); mode 'wrap' or 'constant'."""
    r = (P - 1) // 2
    padded = np.pad(img.reshape(H, W), r, mode=mode)
    return np.lib.stride_tricks.sliding_window_view(padded, (P, P)).reshape(H * W, P * P)


class OnlineLSE:
    """Per-pixel running max M and S1 = sum e^{L-M}, S2 = sum e^{2(L-M)}, SL = sum e^{L-M}(L-M), SC = sum e^{L-M} phi(0)."""

    def __init__(self, rows):
        self.M = np.full(rows, -np.inf)
        self.S1, self.S2, self.SL, self.SC = (np.zeros(rows) for _ in range(4))

    def add(self, L, centres):
        bm = L.max(axis=1)
        M = np.maximum(self.M, bm)
        a = np.exp(self.M - M)                    # 0 where the old max was -inf
        shift = np.where(np.isfinite(self.M), self.M - M, 0.0)
        self.SL = a * (self.SL + self.S1 * shift)
        self.S1 *= a
        self.S2 *= a * a
        self.SC *= a
        U = L - M[:, None]
        E = np.exp(U)
        self.S1 += E.sum(axis=1)
        self.S2 += (E * E).sum(axis=1)
        self.SL += (E * U).sum(axis=1)
        self.SC += E @ centres
        self.M = M

    def finish(self):
        return self.SC / self.S1, self.S2 / self.S1 ** 2, np.log(self.S1) - self.SL / self.S1


def gemm_step(Xc, dictionary, centres, t, block_entries=512):
    """Blocked X_col A_col^T with the online log-sum-exp; dictionary rows are patches. Blocks of 512
    entries (HW x 512 temporaries, cache-sized) were the fastest of 512 ... 40000 on this machine."""
    e, delta = np.exp(-t), -np.expm1(-2 * t)
    xn = (Xc * Xc).sum(axis=1)
    acc = OnlineLSE(Xc.shape[0])
    for s in range(0, dictionary.shape[0], block_entries):
        Ab = dictionary[s:s + block_entries]
        G = Xc @ Ab.T
        d2 = xn[:, None] + (e * e) * (Ab * Ab).sum(axis=1)[None, :] - (2 * e) * G
        acc.add(-np.maximum(d2, 0) / (2 * delta), centres[s:s + block_entries])
    return acc.finish()


def els_step(x, A, H, W, P, t):
    n, r = A.shape[0], (P - 1) // 2
    Xc = windows(x, H, W, P, "wrap")
    valid = np.lib.stride_tricks.sliding_window_view(A.reshape(n, H, W), (P, P), axis=(1, 2))
    dictionary = valid.reshape(-1, P * P)              # (n * Npos, P^2), image-major
    centres = dictionary[:, (r * P + r)]
    return gemm_step(Xc, dictionary, centres, t)


def bbels_step(x, A, H, W, P, t):
    n, r = A.shape[0], (P - 1) // 2
    rows, cols = np.divmod(np.arange(H * W), W)
    sig = np.stack([np.minimum(rows, r), np.minimum(H - 1 - rows, r), np.minimum(cols, r), np.minimum(W - 1 - cols, r)], 1)
    _, cls = np.unique(sig, axis=0, return_inverse=True)
    cls = cls.reshape(-1)
    Xall = windows(x, H, W, P, "constant")
    padded = np.pad(A.reshape(n, H, W), ((0, 0), (r, r), (r, r)))
    Aall = np.lib.stride_tricks.sliding_window_view(padded, (P, P), axis=(1, 2)).reshape(n, H * W, P * P)
    mean, y2, entropy = np.zeros(H * W), np.zeros(H * W), np.zeros(H * W)
    for k in range(cls.max() + 1):
        pix = np.nonzero(cls == k)[0]
        dictionary = Aall[:, pix].reshape(-1, P * P)
        centres = dictionary[:, r * P + r]
        mean[pix], y2[pix], entropy[pix] = gemm_step(Xall[pix], dictionary, centres, t)
    return mean, y2, entropy


STEPS = {"ls": ls_step, "els": els_step, "bbels": bbels_step}


def serve():
    cache = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        q = json.loads(line)
        H, W, n = q["H"], q["W"], q["n"]
        if q["images"] not in cache:
            cache[q["images"]] = np.load(q["images"]).reshape(n, H * W)
        A = cache[q["images"]]
        x = np.load(q["x"]).reshape(H * W)
        t0 = time.perf_counter()
        mean, y2, entropy = STEPS[q["machine"]](x, A, H, W, q["P"], q["t"])
        seconds = time.perf_counter() - t0
        out = {"seconds": seconds, "numpy": np.__version__}
        if q.get("values"):
            out.update(mean=mean.tolist(), y2=y2.tolist(), entropy=entropy.tolist())
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    serve()
