#!/usr/bin/env bash
# Installs a release tarball (npm run pack:release) the way a user would, into a new folder, with no
# compiler: PATH holds only node, npm and a shell (no cc, c++, cmake, ninja, make), and CC/CXX name a
# tripwire that records any call and fails like /bin/false. Then the installed package runs:
# import('mtl-torch'), a parity smoke test against /usr/bin/python3's torch, `npx mtl-torch demo`.
# Fails if install took longer than 60 s or anything tried to compile.
#
# Usage: .ci/install-from-tarball.sh mtl-torch-X.tgz
set -euo pipefail
tarball=$(readlink -f "$1")
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/mtl-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"

mkdir bin app
for tool in node npm npx sh bash env cat tee grep head mkdir ln cp rm; do ln -s "$(command -v "$tool")" "bin/$tool"; done
cat > bin/tripwire <<EOF
#!/bin/sh
echo "\$0 \$*" >> "$work/compiler-calls.log"
exit 1
EOF
chmod +x bin/tripwire
touch compiler-calls.log
for tool in cc c++ gcc g++ cmake ninja make; do
  if PATH="$work/bin" command -v "$tool" > /dev/null; then echo "install-from-tarball: $tool is still on PATH"; exit 1; fi
done
export PATH="$work/bin" CC="$work/bin/tripwire" CXX="$work/bin/tripwire"

cd app
echo '{ "name": "mtl-torch-user", "private": true, "type": "module" }' > package.json
started=$EPOCHREALTIME
npm install --no-audit --no-fund --foreground-scripts "$tarball" 2>&1 | tee ../install.log
install_s=$(node -p "($EPOCHREALTIME - $started).toFixed(1)")
echo "install-from-tarball: npm install took $install_s s"

fail=0
if [ -s ../compiler-calls.log ]; then echo "install-from-tarball: something tried to compile:"; cat ../compiler-calls.log; fail=1; fi
if [ -e node_modules/mtl-torch/build/Release ] || [ -e node_modules/mtl-torch/build/CMakeFiles ]; then
  echo "install-from-tarball: the addon was built during install"; fail=1
fi
grep -q 'using prebuilt prebuilds/' ../install.log || { echo "install-from-tarball: install did not report using a prebuild"; fail=1; }
node -e "process.exit(Number(process.argv[1]) < 60 ? 0 : 1)" "$install_s" || { echo "install-from-tarball: install took ${install_s} s (limit 60 s)"; fail=1; }
[ "$fail" = 0 ] || exit 1

echo "== import('mtl-torch') and parity with PyTorch (/usr/bin/python3)"
cat > smoke.mjs <<'EOF'
const t0 = performance.now();
const mt = await import('mtl-torch');
const loadMs = performance.now() - t0;
mt.manualSeed(0);
const x = mt.randn([4, 8]);
const w = mt.tensor(Float32Array.from({ length: 24 }, (_, i) => (i % 7) * 0.05 - 0.1), [8, 3]);
const y = x.matmul(w).gelu().softmax(-1);
console.log(JSON.stringify({ version: mt.version, loadMs, x: x.toArray(), w: w.toArray(), y: y.toArray() }));
EOF
node smoke.mjs > smoke.json
/usr/bin/python3 - smoke.json <<'EOF'
import json, sys, torch
out = json.load(open(sys.argv[1]))
torch.manual_seed(0)
x = torch.randn(4, 8)
w = torch.tensor(out["w"])
y = torch.softmax(torch.nn.functional.gelu(x @ w), -1)
dx = (x - torch.tensor(out["x"])).abs().max().item()
dy = (y - torch.tensor(out["y"])).abs().max().item()
print(f"mtl-torch {out['version']}: import {out['loadMs']:.0f} ms; randn vs torch max |diff| {dx:.2e}; matmul-gelu-softmax max |diff| {dy:.2e}")
sys.exit(0 if dx <= 1e-6 and dy <= 1e-6 else 1)
EOF

echo "== the type declarations, from a strict TypeScript project (no skipLibCheck)"
cat > types.ts <<'EOF'
import * as mt from 'mtl-torch';
const t: mt.Tensor = mt.tensor([[1, 2], [3, 4]]);
const n: number = t.numel;
console.log(n, mt.version.torch);
// @ts-expect-error a string is not a tensor's data: fails unless the declarations were resolved
mt.tensor('x');
EOF
cat > tsconfig.json <<EOF
{ "compilerOptions": { "module": "NodeNext", "target": "ES2022", "strict": true, "noEmit": true,
    "lib": ["ES2023", "ESNext.Disposable"], "types": ["node"], "typeRoots": ["$repo/node_modules/@types"] },
  "files": ["types.ts"] }
EOF
"$repo/node_modules/.bin/tsc" -p . && echo "types: ok"

echo "== npx mtl-torch (the bin from the tarball)"
npx --no-install mtl-torch --help | head -5
started=$SECONDS
npx --no-install mtl-torch demo --steps 20 --out runs/demo
test -s runs/demo/report.html && test -s runs/demo/model/model.safetensors
echo "install-from-tarball: demo --steps 20 took $(( SECONDS - started )) s"
# README points users at the PyTorch twin: it loads the model the installed package trained.
/usr/bin/python3 - <<'EOF'
import sys
sys.path.insert(0, 'node_modules/mtl-torch/python')
from multitask_twin import MultiTaskTwin
model = MultiTaskTwin.load('runs/demo/model')
print(f"PyTorch twin: runs/demo/model loaded, {sum(p.numel() for p in model.parameters())} parameters")
EOF

echo "== README's own-data example from the installed package: train, eval, predict"
cp -r node_modules/mtl-torch/examples .
started=$SECONDS
npx --no-install mtl-torch train examples/support-tickets/run.json --out runs/tickets --steps 60
echo "install-from-tarball: own-data train --steps 60 took $(( SECONDS - started )) s"
npx --no-install mtl-torch eval runs/tickets
npx --no-install mtl-torch predict runs/tickets category "I was charged twice, asap" | tee predicted.txt
grep -Eq 'billing|hardware|login|network|shipping' predicted.txt

echo "== one's own libtorch: LIBTORCH naming an unpacked libtorch archive (same tag as the prebuild)"
# Its libc10 is a copy, so the process's maps show whether libtorch came through the prebuild's
# RUNPATH link ($ORIGIN/libtorch, pointed at LIBTORCH/lib by the loader) or from the system folder.
own="$work/libtorch"
mkdir -p "$own/lib" "$own/share/cmake/Torch"
ln -s /usr/include "$own/include"
cp /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake "$own/share/cmake/Torch/"
for lib in /usr/lib/x86_64-linux-gnu/lib{torch,torch_cpu}.so*; do ln -s "$lib" "$own/lib/"; done
for lib in /usr/lib/x86_64-linux-gnu/libc10.so*; do cp -L "$lib" "$own/lib/"; done
cat > which-libc10.mjs <<'EOF'
import { readFileSync } from 'node:fs';
const mt = await import('mtl-torch');
const maps = readFileSync('/proc/self/maps', 'utf8').split('\n');
const c10 = [...new Set(maps.filter((l) => /libc10\.so/.test(l)).map((l) => l.trim().split(/\s+/).pop()))];
console.log(JSON.stringify({ sum: mt.tensor([1, 2, 3]).sum().item(), c10 }));
EOF
expect_c10() { # $1: what, $2: the folder libc10 must come from; the rest: the command
  local what=$1 from=$2; shift 2
  "$@" | tee c10.json
  grep -q '"sum":6' c10.json && grep -q "\"c10\":\[\"$from/libc10" c10.json || { echo "install-from-tarball: $what: libtorch not loaded from $from"; exit 1; }
}
expect_c10 'LIBTORCH when loading' "$own/lib" env LIBTORCH="$own" node which-libc10.mjs
LIBTORCH="$own" node node_modules/mtl-torch/scripts/install.mjs   # the install hook, as npm runs it
expect_c10 'LIBTORCH when installing (remembered)' "$own/lib" node which-libc10.mjs
node node_modules/mtl-torch/scripts/install.mjs
expect_c10 'the system libtorch again' /usr/lib/x86_64-linux-gnu node which-libc10.mjs
echo "install-from-tarball: all checks passed"
