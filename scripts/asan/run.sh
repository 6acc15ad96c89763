#!/usr/bin/env bash
# The nightly sanitizer run (too long for CI's 30 minutes: the instrumented build alone is a full
# rebuild): builds the addon with AddressSanitizer + UBSan (npm run build:asan, into build-asan/)
# unless SKIP_BUILD=1, then runs the unit suites and the fuzz test against it, node started with
# libasan preloaded. Any ASan or UBSan report fails the run. Suppressions (scripts/asan/*.supp) hold
# libtorch's own reports only, each with its reason.
#
#   scripts/asan/run.sh [vitest files...]      default: every test file but the browser, CUDA and packaging ones
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ "${SKIP_BUILD:-0}" == 1 ]] || npm run build:asan
addon="$PWD/build-asan/Release/mtl_torch.node"
[[ -f "$addon" ]] || { echo "no sanitized addon at $addon (run npm run build:asan)"; exit 1; }
libasan="$(${CXX:-g++} -print-file-name=libasan.so)"
libubsan="$(${CXX:-g++} -print-file-name=libubsan.so)"
supp="$PWD/scripts/asan"
export MTL_TORCH_ADDON="$addon"
export LD_PRELOAD="$libasan $libubsan"
# detect_leaks=0: node and V8 keep their heaps to the end by design; container-overflow checks need
# every std::vector user instrumented (libtorch is not); halt_on_error: a report ends the process,
# which the tests see as a crash.
export ASAN_OPTIONS="detect_leaks=0:detect_container_overflow=0:halt_on_error=1:abort_on_error=1:symbolize=1:suppressions=$supp/asan.supp"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
# The caching host allocator hides use-after-free of tensor memory from ASan: off under ASan.
export MTL_TORCH_MALLOC=system
if [[ $# -gt 0 ]]; then files=("$@"); else
  mapfile -t files < <(ls test/*/*.test.ts | grep -v -e report-browser -e cuda -e packaging -e build.test)
fi
started=$SECONDS
# Instrumented code runs a few times slower: the per-test and per-hook limits grow with it.
npx vitest run --testTimeout=300000 --hookTimeout=600000 "${files[@]}"
echo "asan: unit and fuzz suites clean in $((SECONDS - started)) s"
