/**
 * Child process of test/processes/kill9.test.ts: trains the resume-test run (test/helpers/resume-setup.ts) to
 * `steps` with a checkpoint after every step, continuing from dir/checkpoint.safetensors when one
 * exists; prints "step N" as it goes (the parent kills it with SIGKILL at random points) and, once
 * the run is complete, writes the final weights to `out`.
 *
 *   node --import tsx kill9-child.ts <dir> <steps> <out>
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as mt from '../../lib/index.ts';
import { resumeSetup } from './resume-setup.ts';

const [dir, stepsArg, out] = process.argv.slice(2) as [string, string, string];
const steps = Number(stepsArg);
const checkpoint = path.join(dir, 'checkpoint.safetensors');
const { model, trainer, sets } = resumeSetup();
const history = await trainer.fit(sets, {
  steps,
  checkpointDir: dir,
  checkpointEvery: 1,
  ...(existsSync(checkpoint) ? { resumeFrom: checkpoint } : {}),
  onProgress: (event) => {
    if (event.kind === 'checkpoint') console.log(`step ${event.step}`);
  },
});
if (history.steps !== steps) throw new Error(`the run ended at step ${history.steps}`);
mt.save(out, model.stateDict());
console.log('complete');
