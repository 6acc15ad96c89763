/**
 * Cost of one small tensor op called from JavaScript, side by side with the same op in PyTorch
 * eager from Python (scripts/bench/op-overhead.py, run in the same process tree, same data).
 * Both use ONE intra-op thread: on 4-element tensors the math is nothing and threads only add
 * noise, so this measures the call overhead (argument checks, conversion, wrapping, freeing).
 *
 *   npx tsx scripts/bench/op-overhead.ts [N=200000]
 *
 * MTL_TORCH_BENCH_SMOKE=1 makes the default N 2000.
 *
 * Prints microseconds per op for both and the ratio JS/Python (< 1: JavaScript is faster).
 * Each JavaScript result is disposed right away, as Python frees it by reference counting.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as mt from '../../lib/index.ts';
import { python, smoke } from './common.ts';

const n = Number(process.argv[2] ?? (smoke ? 2_000 : 200_000));
mt.setNumThreads(1);

const a = mt.ones([4]);
const b = mt.full([4], 2, { dtype: 'float32' }); // a JS 2.0 is the integer 2: without dtype, full() infers int64 as torch.full(..., 2) does
const m = mt.ones([4, 4]);
const data = new Float32Array([1, 2, 3, 4]);

const ops: Record<string, () => void> = {
  add: () => a.add(b).dispose(),
  'mul(scalar)': () => a.mul(2.5).dispose(),
  'matmul 4x4': () => m.matmul(m).dispose(),
  sum: () => a.sum().dispose(),
  relu: () => a.relu().dispose(),
  softmax: () => a.softmax(-1).dispose(),
  zeros: () => mt.zeros([4]).dispose(),
  'tensor(data)': () => mt.tensor(data).dispose(),
  'add.mul.relu (3 ops)': () => mt.tidy(() => a.add(b).mul(2).relu()).dispose(),
};

/** Wall and process-CPU microseconds per call (CPU time is steadier on a shared machine). */
function bench(fn: () => void, count: number): { wall: number; cpu: number } {
  for (let i = 0; i < Math.min(count, 20_000); i++) fn();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) fn();
  const wall = Number(process.hrtime.bigint() - start) / 1e3 / count;
  const used = process.cpuUsage(cpu);
  return { wall, cpu: (used.user + used.system) / count };
}

const js: Record<string, { wall: number; cpu: number }> = {};
for (const [name, fn] of Object.entries(ops)) js[name] = bench(fn, name === 'add' ? n : Math.max(Math.floor(n / 4), 1000));

const script = fileURLToPath(new URL('./op-overhead.py', import.meta.url));
const py = JSON.parse(execFileSync(python, [script, String(n)], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } })) as {
  torch: string;
  threads: number;
  ops: Record<string, number>;
  cpu: Record<string, number>;
};

const f = (v: number, w: number) => v.toFixed(2).padStart(w);
console.log(
  `op overhead, 1 intra-op thread; libtorch ${mt.version.torch} (JS) vs torch ${py.torch} (Python); add: ${n} calls, others ${Math.max(Math.floor(n / 4), 1000)}`,
);
console.log(
  `${'op'.padEnd(22)} ${'JS µs'.padStart(8)} ${'Py µs'.padStart(8)} ${'JS/Py'.padStart(7)}   ${'JS cpu'.padStart(8)} ${'Py cpu'.padStart(8)} ${'JS/Py'.padStart(7)}`,
);
for (const name of Object.keys(ops)) {
  const j = js[name]!;
  console.log(
    `${name.padEnd(22)} ${f(j.wall, 8)} ${f(py.ops[name]!, 8)} ${f(j.wall / py.ops[name]!, 7)}   ${f(j.cpu, 8)} ${f(py.cpu[name]!, 8)} ${f(j.cpu / py.cpu[name]!, 7)}`,
  );
}
const ratio = js.add!.wall / py.ops.add!;
const cpuRatio = js.add!.cpu / py.cpu.add!;
console.log(
  `\nadd of two 4-element float32 tensors: JS ${js.add!.wall.toFixed(2)} µs, Python ${py.ops.add!.toFixed(2)} µs, ratio ${ratio.toFixed(2)} ` +
    `(CPU time: ${js.add!.cpu.toFixed(2)} vs ${py.cpu.add!.toFixed(2)} µs, ratio ${cpuRatio.toFixed(2)}); ${ratio <= 1 ? 'JS not slower' : 'JS slower'}`,
);
a.dispose();
b.dispose();
m.dispose();
