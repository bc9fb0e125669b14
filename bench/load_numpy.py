"""numpy reference of `diffphys bench --load`: the same work as loading
`fashion-mnist:classes=0,…,9,per-class=6000` (all 60 000 training images): gunzip + decode the
IDX files, keep the first K rows of each class in file order, x/255 as float64, subtract the
scalar mean twice (as the Swift loader does). Prints JSON {"seconds": [...], "peakRSSBytes",
"n", "d", "checksum"}; run it in a fresh process so the peak RSS is the load's own.
Usage: python3 bench/load_numpy.py [--repeat 3] [--per-class 6000] [--root DIR]
"""
import argparse, gzip, json, os, resource, time
import numpy as np


def load(root, classes, per_class):
    with gzip.open(os.path.join(root, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
        imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    idx = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in classes]))
    x = imgs[idx].astype(np.float64)
    x *= 1.0 / 255
    for _ in range(2):
        x -= x.mean()
    return x, labels[idx].astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=6000)
    ap.add_argument("--root", default=os.environ.get("DIFFPHYS_FASHION_MNIST", "/usr/share/datasets/fashion-mnist"))
    a = ap.parse_args()
    ts = []
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        x, labels = load(a.root, range(10), a.per_class)
        ts.append(time.perf_counter() - t0)
        shape = x.shape
        checksum = float(x.sum())
        del x, labels
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": ts, "peakRSSBytes": peak, "n": shape[0], "d": shape[1],
                      "numpy": np.__version__, "checksum": checksum}))


if __name__ == "__main__":
    main()
