"""numpy reference of `diffphys bench`: the papers' protocol (min-shift log-sum-exp softmax over
GEMM distances, as in [CODE] calc_log_pt / [BUBM] compute_empirical_score), same shapes.

Threads: set OPENBLAS_NUM_THREADS / OMP_NUM_THREADS before numpy is imported (run.sh does).
Prints JSON: {"threads":…, "cases":[{"B","n","d","floorSeconds","scoreF64Seconds","scoreF32Seconds"}],
"forwardCurve": {...}}.
"""
import argparse, gzip, json, os, time
import numpy as np


def median_time(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2], ts[0], ts[-1]


def score_step(x, A, a2, t):
    """One empirical-score step: weights by GEMM distances + softmax, then the mean (second GEMM)."""
    s = np.exp(t); sigma2 = np.expm1(2 * t)
    y = s * x
    d2 = (y * y).sum(1)[:, None] - 2 * (y @ A.T) + a2[None, :]
    l = -d2 / (2 * sigma2)
    l -= l.max(1, keepdims=True)
    w = np.exp(l)
    w /= w.sum(1, keepdims=True)
    return w @ A


def case(B, n, d, reps, rng):
    A = rng.random((n, d))
    t = 1.0
    mu = rng.integers(0, n, B)
    x = A[mu] * np.exp(-t) + np.sqrt(-np.expm1(-2 * t)) * rng.standard_normal((B, d))
    W = rng.random((B, n))
    floor = median_time(lambda: (x @ A.T, W @ A), reps)
    A32, x32, W32 = A.astype(np.float32), x.astype(np.float32), W.astype(np.float32)
    floor32 = median_time(lambda: (x32 @ A32.T, W32 @ A32), reps)
    a2 = (A * A).sum(1); a232 = a2.astype(np.float32)
    f64 = median_time(lambda: score_step(x, A, a2, t), reps)
    f32 = median_time(lambda: score_step(x32, A32, a232, np.float32(t)), reps)
    return {"B": B, "n": n, "d": d, "floorSeconds": floor[0], "floorF32Seconds": floor32[0],
            "scoreF64Seconds": f64[0], "scoreF32Seconds": f32[0],
            "spread": {"floor": floor, "scoreF64": f64, "scoreF32": f32}}


def load_fmnist(classes=(1, 9), per_class=1000, root="/usr/share/datasets/fashion-mnist"):
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    idx = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in classes])
    return imgs[idx].astype(np.float64) / 255.0, labels[idx].astype(np.int64)


def forward_curve(A, labels, samples, times, rng):
    """The per-time protocol: at every t draw x = a_mu e^{-t} + sqrt(Δ) z and evaluate the weights
    (one GEMM per t); E[Y2], f^e = -E[ln w_mu0]/d, φ = E[Σ_c p_c²]."""
    n, d = A.shape
    a2 = (A * A).sum(1)
    classes = np.unique(labels)
    onehot = (labels[:, None] == classes[None, :]).astype(np.float64)
    out = []
    for t in times:
        mu = rng.integers(0, n, samples)
        x = A[mu] * np.exp(-t) + np.sqrt(-np.expm1(-2 * t)) * rng.standard_normal((samples, d))
        s = np.exp(t); sigma2 = np.expm1(2 * t); y = s * x
        l = -((y * y).sum(1)[:, None] - 2 * (y @ A.T) + a2[None, :]) / (2 * sigma2)
        l -= l.max(1, keepdims=True)
        w = np.exp(l); z = w.sum(1, keepdims=True); w /= z
        y2 = (w * w).sum(1).mean()
        fe = -np.mean(l[np.arange(samples), mu] - np.log(z[:, 0])) / d
        p = w @ onehot
        phi = (p * p).sum(1).mean()
        out.append((t, y2, fe, phi))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--B", type=int); ap.add_argument("--n", type=int); ap.add_argument("--d", type=int)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--fmnist-samples", type=int, default=0)
    ap.add_argument("--kernel-only", action="store_true")
    args = ap.parse_args()
    rng = np.random.default_rng(1)
    if args.B or args.n or args.d:
        shapes = [(args.B or 256, args.n or 10000, args.d or 784)]
    else:
        shapes = [(64, 2000, 256), (256, 10000, 784), (512, 20000, 784)]
    res = {"threads": int(os.environ.get("OPENBLAS_NUM_THREADS", "0")), "numpy": np.__version__,
           "cases": [case(B, n, d, args.repeat, rng) for (B, n, d) in shapes]}
    if args.fmnist_samples > 0:
        A, labels = load_fmnist()
        times = 1e-2 * 500.0 ** (np.arange(50) / 49)
        t0 = time.perf_counter()
        curve = forward_curve(A, labels, args.fmnist_samples, times, rng)
        res["fmnistCurve"] = {"n": A.shape[0], "d": A.shape[1], "samples": args.fmnist_samples, "times": 50,
                              "seconds": time.perf_counter() - t0, "curve": curve}
    print(json.dumps(res))


if __name__ == "__main__":
    main()
