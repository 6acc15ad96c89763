#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and PyTorch (see ../shared/gpu/env.sh for the device machine):
# builds the addon against that PyTorch's libtorch (CUDA), runs the CUDA tests, then the benchmarks.
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
node scripts/find-libtorch.cjs || exit 1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
rm -rf build
time node scripts/install.mjs || exit 1
export MTL_TORCH_TEST_DEVICE=cuda
npx vitest run test/cuda.test.ts test/cuda-model.test.ts || status=1
for bench in scripts/bench/*.ts; do
  [ -e "$bench" ] || continue
  echo "== $bench (cuda)"
  MTL_TORCH_BENCH_DEVICE=cuda timeout 300 npx tsx "$bench" || status=1
done
exit $status
