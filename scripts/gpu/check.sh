#!/usr/bin/env bash
# The GPU check (issue #16), one script for one device call (docs/gpu.md says how to
# make it): on a machine with an NVIDIA GPU and PyTorch it
#   1. builds the addon against that PyTorch's libtorch (CUDA),
#   2. measures the seed model's training throughput in bf16, mtl-torch against PyTorch eager (the
#      twin) in one run: tokens/s, the RATIO and the MFU against the H200's dense bf16 peak,
#   3. runs the CUDA test suites (test/parity/cuda.test.ts, test/parity/cuda-model.test.ts),
#   4. trains in bf16 and fp16 (dynamic loss scaling): the small model with separate and shared
#      inputs, the gradient-surgery weightings (PCGrad, CAGrad, Nash-MTL) and uncertainty in fp16,
#      the seed model; every loss must fall with no skipped step once the scale has settled,
#   5. makes and checks the CUDA prebuild (copied to $OUT when set),
#   6. with the time left: the seed model's throughput at batch 256 per task, a CPU benchmark.
# Every part runs under a time limit inside one budget (MTL_GPU_CHECK_BUDGET, 560 s: a device
# command may run 600 s), so the summary at the end always prints.
#
#   bash scripts/gpu/check.sh                  # CUDA (the device machine: source .device/env.sh first)
#   bash scripts/gpu/check.sh --device cpu     # dry run here: the parts that run on a CPU, tiny sizes,
#                                              # with the addon already built (no CUDA build, prebuild
#                                              # or CUDA suites); a few minutes
set -uo pipefail
cd "$(dirname "$0")/../.."
device=cuda
case "${1:-}" in
  --device) device=${2:-}; [ "$device" = cpu ] || [ "$device" = cuda ] || { echo "usage: check.sh [--device cpu|cuda]"; exit 2; } ;;
  "") ;;
  *) echo "usage: check.sh [--device cpu|cuda]"; exit 2 ;;
esac
start=$SECONDS
budget=${MTL_GPU_CHECK_BUDGET:-560}
logs=$(mktemp -d)
summary=()
status=0

section() { echo; echo "=== [$((SECONDS - start)) s] $*"; }
# part NAME LIMIT COMMAND...: runs COMMAND under min(LIMIT, what the budget leaves) seconds, output
# shown and kept in $logs/NAME.log; records PASS, FAIL or SKIPPED (no time left) for the summary.
part() {
  local name=$1 limit=$2
  shift 2
  local left=$((budget - (SECONDS - start) - 10))
  if [ "$left" -lt 30 ]; then
    summary+=("SKIPPED  $name (only $((budget - (SECONDS - start))) s of the ${budget} s budget left)")
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  section "$name (limit ${limit} s)"
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$logs/$name.log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then
    summary+=("PASS     $name ($((SECONDS - t0)) s)")
  else
    [ "$rc" = 124 ] && rc="$rc: out of time"
    summary+=("FAIL     $name ($((SECONDS - t0)) s, exit $rc)")
    status=1
  fi
}
finish() {
  section "summary ($device, $((SECONDS - start)) s in all)"
  printf '%s\n' "${summary[@]}"
  grep -h -E '^ *(RATIO|MFU)|^seed-throughput:' "$logs"/seed-throughput*.log 2>/dev/null
  grep -h -E ' (ok|FAILED.*)$' "$logs"/train-*.log 2>/dev/null | sed 's/^/  /'
  [ "$status" = 0 ] && echo "GPU CHECK ($device): PASSED" || echo "GPU CHECK ($device): FAILED"
  rm -rf "$logs"
  exit $status
}

section "environment ($device)"
node --version
node scripts/find-libtorch.cjs || { summary+=("FAIL     find-libtorch"); status=1; finish; }
if [ "$device" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader || true
  # the PyTorch side of the benchmarks and the CUDA suites' oracles: the python3 that has torch
  export MTL_TORCH_PYTHON=${MTL_TORCH_PYTHON:-$(command -v python3)}
else
  export MTL_TORCH_PYTHON=${MTL_TORCH_PYTHON:-/usr/bin/python3}
fi
"$MTL_TORCH_PYTHON" -c 'import torch; print("PyTorch", torch.__version__, "CUDA", torch.version.cuda, "available", torch.cuda.is_available())' || true

if [ "$device" = cuda ]; then
  section "build the addon against this PyTorch's libtorch"
  rm -rf build
  t0=$SECONDS
  if node scripts/install.mjs --from-source; then
    summary+=("PASS     build ($((SECONDS - t0)) s)")
  else
    summary+=("FAIL     build ($((SECONDS - t0)) s)"); status=1; finish
  fi
  out=${OUT:-$logs}
  part seed-throughput 240 npx tsx scripts/gpu/seed-throughput.ts --device cuda --precision bf16 --batch 64 --json "$out/seed-throughput.json"
  export MTL_TORCH_TEST_DEVICE=cuda
  part cuda-suites 240 npx vitest run test/parity/cuda.test.ts test/parity/cuda-model.test.ts
  part train-small 150 npx tsx scripts/gpu/train-bf16.ts --device cuda --size small --precisions bf16,fp16 --inputs separate,shared
  part train-weightings 180 npx tsx scripts/gpu/train-bf16.ts --device cuda --size small --precisions fp16,bf16 --inputs separate \
    --weightings pcgrad,cagrad,nashMtl,uncertainty
  part train-seed 150 npx tsx scripts/gpu/train-bf16.ts --device cuda --size seed --precisions bf16,fp16 --inputs separate \
    --weightings equal,pcgrad --steps 40
  part cuda-prebuild 150 bash scripts/gpu/prebuild-check.sh
  part seed-throughput-b256 150 npx tsx scripts/gpu/seed-throughput.ts --device cuda --precision bf16 --batch 256 --windows 3 --no-fused \
    --json "$out/seed-throughput-b256.json"
  part cpu-benchmark 100 npx tsx scripts/bench/encoder.ts --rounds 2
else
  echo "--device cpu: the addon built here (build/); no CUDA build, prebuild or CUDA suites; tiny sizes"
  part seed-throughput-fp32 120 npx tsx scripts/gpu/seed-throughput.ts --device cpu --size tiny --precision fp32 --warmup 2 --steps 3 --windows 3
  part seed-throughput-bf16 120 npx tsx scripts/gpu/seed-throughput.ts --device cpu --size tiny --precision bf16 --warmup 2 --steps 3 --windows 3
  part train-tiny 120 npx tsx scripts/gpu/train-bf16.ts --device cpu --size tiny --precisions bf16 --inputs separate,shared --steps 30 --lr 1e-3
  part train-weightings 180 npx tsx scripts/gpu/train-bf16.ts --device cpu --size tiny --precisions bf16 --inputs separate --steps 30 --lr 1e-3 \
    --weightings pcgrad,cagrad,nashMtl,uncertainty
fi
finish
