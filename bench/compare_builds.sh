#!/bin/bash
# Interleaved: old (haswell flags, Swift SIMD softmax) vs new engine with the same BLAS core (selection off) vs new default.
OLD=${OLD:?set OLD to the diffphys binary of the build to compare against}
NEW=${NEW:-.build/release/diffphys}
for rep in 1 2 3; do
  for shape in "256 10000 64" "256 10000 784"; do
    set -- $shape
    for which in old newoff new; do
      case $which in old) cmd="$OLD";; newoff) cmd="env DIFFPHYS_BLAS_CORE=off $NEW";; new) cmd="$NEW";; esac
      $cmd bench --B $1 --n $2 --d $3 --repeat 5 --kernel-only --json --threads 2 2>/dev/null | python3 -c "
import json,sys
j=json.load(sys.stdin); j=j.get('results', j); c=j['cases'][0]
print('%-6s' % '$which', '$1x$2x$3', 'f64=%.4f f64_1t=%.4f f32=%.4f floor=%.4f f64/floor=%.2f' % (c['scoreF64Seconds'], c['scoreF64OneThreadSeconds'], c['scoreF32Seconds'], c['floorSeconds'], c['scoreF64Seconds']/c['floorSeconds']))
"
    done
  done
done
