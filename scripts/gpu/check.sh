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
echo "== short CUDA training, bf16 and fp16 (loss scaling), separate and shared inputs"
timeout 240 npx tsx scripts/gpu/train-bf16.ts || status=1
echo "== CPU benchmarks on this machine (2 threads, PyTorch eager of this machine alongside)"
MTL_TORCH_PYTHON=$(command -v python3) timeout 120 npx tsx scripts/bench/encoder.ts --rounds 2 || status=1
exit $status
