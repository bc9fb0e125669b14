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

out=$("${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" sharded-score-check 2>&1)
rc=$?
echo "$out" | grep sharded-score-check
if [ $rc = 0 ] && echo "$out" | grep -q "maxima on ranks 0,1: .* OK"; then ok "sharded score = unsharded to 1e-12"; else ko "sharded score (rc $rc)"; echo "$out"; fi

err=$("${MPIRUN[@]}" -np 2 "$BIN/diffphys-mpi" memorization-map "${MAP[@]}" --out "$T/fail" --fail-on-rank 1 2>&1 >/dev/null)
rc=$?
if [ $rc != 0 ] && echo "$err" | grep -q "rank 1 of 2: injected failure"; then ok "a failing rank fails the run (exit $rc) with its message"; else ko "failing rank (exit $rc): $err"; fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
