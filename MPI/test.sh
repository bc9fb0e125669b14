#!/usr/bin/env bash
# MPI tests (README "MPI"). Builds the opt-in MPI package (and the root `diffphys` into the same
# build directory), then under `mpirun -np 2` (and 3):
#   - memorization-map: map.csv byte-identical to the single-process `diffphys memorization-map`,
#     fresh, with an uneven deal (3 ranks), resumed from a partial single-process file, and on
#     real data (Fashion-MNIST, when installed);
#   - reproduce: a split study (collapse-gmm, rows per d) and a whole one (regimes), --quick:
#     every CSV byte-identical to the single-process `diffphys reproduce`, on 2 and 3 ranks;
#   - collapse: the sharded planted E[Y2](t) equals `diffphys collapse`'s y2 column to 1e-9
#     relative (bound 4e-10, README "MPI"), on a mixture and on Fashion-MNIST sliced per rank;
#   - the sharded exact score equals the unsharded one to 1e-12 relative, maxima on both shards;
#   - sample and speciation (clones and the Rao–Blackwellised forward φ) on the sharded score
#     (ShardedScoreModel): 2 and 3 ranks equal 1 rank to 1e-9 relative, drawn points identical,
#     and the 2-rank samples equal `diffphys sample`'s;
#   - a rank that fails makes the run exit non-zero with the rank's message.
# Needs libopenmpi-dev and openmpi-bin. Prints "N passed, N failed"; exits 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")"
swift build -c release >/dev/null || { echo "MPI package build failed"; exit 1; }
swift build -c release --product diffphys >/dev/null || { echo "diffphys build failed"; exit 1; }
BIN=$(swift build -c release --show-bin-path)
MPIRUN=(mpirun --allow-run-as-root --oversubscribe)
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0
ok() { echo "PASS: $1"; passed=$((passed + 1)); }
ko() { echo "FAIL: $1"; failed=$((failed + 1)); }
same() { if cmp -s "$2" "$3"; then ok "$1"; else ko "$1 ($2 vs $3 differ)"; diff "$2" "$3" | head -5; fi; }

MAP=(--data gaussian:d=8,n=60 --n 20,60 --d 4,8 --times 0.05,0.2,0.5,1,2 --samples 60 --seed 3)

"$BIN/diffphys" memorization-map "${MAP[@]}" --out "$T/one" >/dev/null || ko "single-process map"
"${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" memorization-map "${MAP[@]}" --out "$T/two" >/dev/null
same "memorization-map, 2 ranks = 1 process" "$T/one/map.csv" "$T/two/map.csv"
[ ! -e "$T/two/mpi-ranks" ] && ok "per-rank files removed" || ko "per-rank files left in $T/two/mpi-ranks"

"${MPIRUN[@]}" -np 3 "$BIN/diffphys-mpi" memorization-map "${MAP[@]}" --out "$T/three" >/dev/null
same "memorization-map, 3 ranks = 1 process" "$T/one/map.csv" "$T/three/map.csv"

"$BIN/diffphys" memorization-map "${MAP[@]}" --out "$T/resume" --stop-after 7 >/dev/null
"${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" memorization-map "${MAP[@]}" --out "$T/resume" >/dev/null
same "memorization-map resumed by 2 ranks from a partial single-process map.csv" "$T/one/map.csv" "$T/resume/map.csv"

if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  REAL=(--data fashion-mnist:classes=1,9,per-class=60 --n 40,120 --times 0.3,1 --samples 20)
  "$BIN/diffphys" memorization-map "${REAL[@]}" --out "$T/real1" >/dev/null || ko "single-process map on Fashion-MNIST"
  "${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" memorization-map "${REAL[@]}" --out "$T/real2" >/dev/null
  same "memorization-map on Fashion-MNIST, 2 ranks = 1 process" "$T/real1/map.csv" "$T/real2/map.csv"
else
  echo "SKIP: Fashion-MNIST not installed"
fi

"$BIN/diffphys" reproduce collapse-gmm --quick --out "$T/rep1" >/dev/null 2>&1 || ko "single-process reproduce collapse-gmm"
"$BIN/diffphys" reproduce regimes --quick --out "$T/rep1" >/dev/null 2>&1 || ko "single-process reproduce regimes"
for np in 2 3; do
  "${MPIRUN[@]}" -np $np "$BIN/diffphys-mpi" reproduce collapse-gmm,regimes --quick --out "$T/rep$np" >/dev/null 2>&1 || ko "reproduce on $np ranks"
  bad=""
  for f in collapse-gmm/fe.csv collapse-gmm/theory.csv collapse-gmm/checks.csv regimes/curves.csv regimes/checks.csv; do
    cmp -s "$T/rep1/$f" "$T/rep$np/$f" || bad="$bad $f"
  done
  [ -z "$bad" ] && ok "reproduce collapse-gmm,regimes --quick, $np ranks = 1 process (CSVs byte-identical)" || ko "reproduce on $np ranks differs:$bad"
done
[ ! -e "$T/rep2/mpi-ranks" ] && ok "reproduce: per-rank folders removed" || ko "per-rank folders left in $T/rep2/mpi-ranks"

close() {  # close NAME ONE.json SHARDED.json: y2 columns equal to 1e-9 relative
  if python3 - "$2" "$3" <<'PY'
import json, sys
a, b = (json.load(open(p))["results"]["curve"] for p in sys.argv[1:3])
worst = max(abs(r["y2"]["value"] - s["y2"]["value"]) / max(abs(r["y2"]["value"]), 1e-300) for r, s in zip(a, b))
assert len(a) == len(b) and all(r["t"] == s["t"] for r, s in zip(a, b))
print(f"  max relative difference of E[Y2]: {worst:.1e}")
sys.exit(0 if worst <= 1e-9 else 1)
PY
  then ok "$1"; else ko "$1"; fi
}
COL=(--times 0.05,0.2,0.5,1 --samples 300)
"$BIN/diffphys" collapse --data gmm2:d=64,n=500 "${COL[@]}" --trajectories 2 --json > "$T/col1.json" 2>/dev/null || ko "single-process collapse"
for np in 2 3; do
  "${MPIRUN[@]}" -np $np "$BIN/diffphys-mpi" collapse --data gmm2:d=64,n=500 "${COL[@]}" --chunk 128 --json > "$T/col$np.json" || ko "sharded collapse on $np ranks"
  close "sharded collapse E[Y2](t), $np ranks = 1 process" "$T/col1.json" "$T/col$np.json"
done
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  F=fashion-mnist:classes=1,9,per-class=200
  "$BIN/diffphys" collapse --data $F "${COL[@]}" --trajectories 2 --json > "$T/fcol1.json" 2>/dev/null || ko "single-process collapse on Fashion-MNIST"
  "${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" collapse --data $F "${COL[@]}" --json > "$T/fcol2.json" || ko "sharded collapse on Fashion-MNIST"
  close "sharded collapse on Fashion-MNIST (slices loaded per rank), 2 ranks = 1 process" "$T/fcol1.json" "$T/fcol2.json"
fi

# sample and speciation on the sharded score (ShardedScoreModel): 2 ranks = 1 rank up to summation order
near() {  # near NAME ONE.json TWO.json: every number equal to 1e-9 relative (integers exactly)
  if python3 - "$2" "$3" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
worst = 0.0
def walk(x, y, key=""):
    global worst
    if key in ("ranks", "seconds", "communicationBytes"): return
    if isinstance(x, dict):
        assert x.keys() == y.keys(); [walk(x[k], y[k], k) for k in x]
    elif isinstance(x, list):
        assert len(x) == len(y), key; [walk(u, v, key) for u, v in zip(x, y)]
    elif isinstance(x, int) and not isinstance(x, bool):
        assert x == y, f"{key}: {x} != {y}"
    elif x is not None:
        worst = max(worst, abs(x - y) / max(abs(x), 1e-3))
walk(a, b)
print(f"  max relative difference: {worst:.1e}")
sys.exit(0 if worst <= 1e-9 else 1)
PY
  then ok "$1"; else ko "$1"; fi
}
SMP=(--data gmm2:d=16,n=300,mtilde=1,sigma=1 --count 24 --steps 60 --seed 5 --json)
"${MPIRUN[@]}" -np 1 "$BIN/diffphys-mpi" sample "${SMP[@]}" > "$T/s1.json" || ko "sharded sample on 1 rank"
"${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" sample "${SMP[@]}" > "$T/s2.json" || ko "sharded sample on 2 ranks"
near "sharded sample (states and drawn training points), 2 ranks = 1 rank" "$T/s1.json" "$T/s2.json"
"$BIN/diffphys" sample --data gmm2:d=16,n=300,mtilde=1,sigma=1 --count 24 --steps 60 --seed 5 --sampler sde --out "$T/s0.csv" >/dev/null 2>&1 || ko "single-process sample"
if python3 - "$T/s0.csv" "$T/s2.json" <<'PY'
import csv, json, sys
rows = [[float(v) for v in r] for r in csv.reader(open(sys.argv[1])) if r and not r[0].startswith("#")]
sharded = json.load(open(sys.argv[2]))["samples"]
sys.exit(0 if rows == sharded else 1)
PY
then ok "sharded sample on 2 ranks = diffphys sample (the same training points drawn)"; else ko "sharded sample differs from diffphys sample"; fi
SPC=(--data gmm2:d=16,n=300,mtilde=1,sigma=1 --times 0.3,1,2 --pairs 40 --samples 300 --steps 60 --seed 5 --json)
"${MPIRUN[@]}" -np 1 "$BIN/diffphys-mpi" speciation "${SPC[@]}" > "$T/p1.json" || ko "sharded speciation on 1 rank"
"${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" speciation "${SPC[@]}" > "$T/p2.json" || ko "sharded speciation on 2 ranks"
near "sharded speciation (clones φ and Rao–Blackwellised forward φ), 2 ranks = 1 rank" "$T/p1.json" "$T/p2.json"
"${MPIRUN[@]}" -np 3 "$BIN/diffphys-mpi" speciation "${SPC[@]}" > "$T/p3.json" || ko "sharded speciation on 3 ranks"
near "sharded speciation, 3 ranks = 1 rank" "$T/p1.json" "$T/p3.json"

out=$("${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" sharded-score-check 2>&1)
rc=$?
echo "$out" | grep sharded-score-check
if [ $rc = 0 ] && echo "$out" | grep -q "maxima on ranks 0,1: .* OK"; then ok "sharded score = unsharded to 1e-12"; else ko "sharded score (rc $rc)"; echo "$out"; fi

err=$("${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" memorization-map "${MAP[@]}" --out "$T/fail" --fail-on-rank 1 2>&1 >/dev/null)
rc=$?
if [ $rc != 0 ] && echo "$err" | grep -q "rank 1 of 2: injected failure"; then ok "a failing rank fails the run (exit $rc) with its message"; else ko "failing rank (exit $rc): $err"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
