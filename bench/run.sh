#!/usr/bin/env bash
# Side by side: `diffphys bench --json` and the numpy reference on the same shapes, 1 and all cores.
# Usage: bench/run.sh [--B 256 --n 10000 --d 784] [--repeat 5] [--fmnist-samples 2000]
# Prints ours/numpy for each case (lower is better for us). Run on an otherwise idle machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bash "$here/setup.sh" >&2
(cd "$root" && swift build -c release >&2)
cores="$(nproc)"
out="$(mktemp -d)"
"$root/.build/release/diffphys" bench --json --kernel-only --threads "$cores" "$@" > "$out/ours.json"
for th in 1 "$cores"; do
  OPENBLAS_NUM_THREADS=$th OMP_NUM_THREADS=$th "$here/.venv/bin/python" "$here/bench_numpy.py" --kernel-only "$@" > "$out/numpy$th.json"
done
"$here/.venv/bin/python" - "$out" "$cores" <<'PY'
import json, sys
out, cores = sys.argv[1], sys.argv[2]
ours = json.load(open(f"{out}/ours.json"))["results"]   # the Docs/Schema.md envelope
n1 = json.load(open(f"{out}/numpy1.json")); nall = json.load(open(f"{out}/numpy{cores}.json"))
ms = lambda s: f"{1e3*s:9.2f} ms"
print(f"{'case':>22} {'':>10} {'ours':>12} {'numpy':>12} {'ours/numpy':>10}")
for o, a, b in zip(ours["cases"], nall["cases"], n1["cases"]):
    name = f"B={o['B']} n={o['n']} d={o['d']}"
    rows = [("floor f64", o["floorSeconds"], a["floorSeconds"]),
            ("score f64", o["scoreF64Seconds"], a["scoreF64Seconds"]),
            ("score f32", o["scoreF32Seconds"], a["scoreF32Seconds"]),
            ("score f64 1thr", o["scoreF64OneThreadSeconds"], b["scoreF64Seconds"])]
    for label, x, y in rows:
        print(f"{name:>22} {label:>14} {ms(x)} {ms(y)} {x/y:10.3f}")
    print(f"{name:>22} ours: f64/floor {o['ratioF64ToFloor']:.3f}, f32/sgemm-floor {o['ratioF32ToFloor']:.3f}, "
          f"scaling 1→{cores} {o['threadScaling']:.2f}×; numpy f64/floor {a['scoreF64Seconds']/a['floorSeconds']:.3f}, "
          f"scaling {b['scoreF64Seconds']/a['scoreF64Seconds']:.2f}×")
if "fmnistCurve" in ours and ours["fmnistCurve"] and "fmnistCurve" in nall:
    o, a = ours["fmnistCurve"], nall["fmnistCurve"]
    print(f"Fashion-MNIST 50-point E[Y2]/f^e/φ curve, n={o['n']}, B={o['samples']}: ours {ms(o['seconds']['median'])}, "
          f"numpy per-time {ms(a['seconds'])}, speed-up {a['seconds']/o['seconds']['median']:.1f}×")
PY
