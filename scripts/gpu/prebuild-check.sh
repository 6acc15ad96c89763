#!/usr/bin/env bash
# Part of scripts/gpu/check.sh, after the addon was built against this machine's CUDA libtorch:
# makes the CUDA prebuild (the same objects linked with RUNPATH $ORIGIN/libtorch, tagged, checked:
# rpath, ldd, ABI, CUDA, loads), loads it as an installed package would, checks that a prebuild
# tagged for another CUDA version is refused, and copies it to $OUT when set (for the release).
set -uo pipefail
cd "$(dirname "$0")/../.."
status=0
time node scripts/prebuild.mjs || exit 1
tag=$(node -e "const p = require('./scripts/prebuilds.cjs'); console.log(p.prebuildName(require('./scripts/find-libtorch.cjs').findLibtorch()))")
case "$tag" in *-cuda[0-9]*) ;; *) echo "expected a CUDA prebuild, got $tag"; status=1 ;; esac
# Loaded as an installed package loads it: no local build, from another folder (so through the
# libtorch link the loader makes, not this build's paths), next to foreign-tagged prebuilds, with
# libtorch found the way README's PyTorch users have it (python3's torch: Torch_DIR unset).
shipped=$(mktemp -d)/prebuilds
mkdir -p "$shipped/linux-x64"
cp "prebuilds/linux-x64/$tag" "$shipped/linux-x64/"
cp "prebuilds/linux-x64/$tag" "$shipped/linux-x64/$(echo "$tag" | sed -E 's/-cuda[0-9.]+\.node$/-cuda99.9.node/')"
# The package without build/: a copy of lib/ (the loader's package root) beside links to the rest.
package=$(mktemp -d)
cp -r lib "$package/"
for name in package.json tsconfig.json node_modules scripts; do ln -s "$PWD/$name" "$package/$name"; done
(cd "$package" && env -u Torch_DIR MTL_TORCH_PREBUILDS="$shipped" timeout 120 npx tsx -e "
  import * as mt from './lib/index.ts';
  const x = mt.randn([64, 64]);
  const diff = x.to('cuda').matmul(x.to('cuda')).cpu().sub(x.matmul(x)).abs().max().item();
  console.log('prebuild loaded:', JSON.stringify(mt.version), 'cuda devices', mt.cuda.deviceCount(), 'matmul |cuda - cpu| max', diff);
  if (!mt.version.cuda || !(diff < 1e-2)) process.exit(1);") || status=1
ls -l "$shipped/linux-x64"
ldd "$shipped/linux-x64/$tag" | grep -E 'lib(torch|c10|cudart)'
# With only the foreign-tagged copy the loader must refuse (it would load, but it is not this libtorch's).
rm "$shipped/linux-x64/$tag"
if (cd "$package" && MTL_TORCH_PREBUILDS="$shipped" timeout 120 npx tsx -e "import './lib/index.ts'") 2> "$shipped/refused.txt"; then
  echo "the loader loaded a prebuild tagged for another CUDA version"; status=1
else
  grep -q 'no prebuilt addon fits' "$shipped/refused.txt" && echo "foreign CUDA tag refused, as it should be" || { cat "$shipped/refused.txt"; status=1; }
fi
if [ -n "${OUT:-}" ]; then cp "prebuilds/linux-x64/$tag" "$OUT/" && echo "copied $tag to \$OUT"; fi
exit $status
