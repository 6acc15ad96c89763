/**
 * kill -9 during training: a child trains with a checkpoint after every step and is killed
 * (SIGKILL) at random points, checkpoint writes included; each restart resumes from the checkpoint
 * on disk. The final weights equal an uninterrupted run's byte for byte, and no temporary file is
 * left behind.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { helperPath, runChild } from '../helpers/child.ts';
import { resumeSetup } from '../helpers/resume-setup.ts';
import { rng, tempDir } from '../helpers/train.ts';

const STEPS = 24;
const KILLS = 3;

describe('kill -9 during training', () => {
  it(`${KILLS} kills at random points, then resumes: the weights equal an uninterrupted run's, byte for byte`, async () => {
    const dir = tempDir('mtl-kill9-');
    const out = path.join(dir, 'final.safetensors');
    const child = helperPath('kill9-child.ts');
    const random = rng(Number(process.env.MTL_TORCH_KILL_SEED ?? 15));
    const killedAt: number[] = [];
    let complete = false;
    for (let run = 0; run <= KILLS + 2 && !complete; run++) {
      const kill = run < KILLS;
      // Killed a random time after a random number of further checkpoints: inside a step, an
      // evaluation-free loop iteration or a checkpoint write.
      const afterSteps = 1 + Math.floor(random() * 4);
      const delayMs = Math.floor(random() * 30);
      let seen = 0;
      const result = await runChild(child, [dir, String(STEPS), out], {
        timeoutMs: 180_000,
        onStdout: (text, killChild) => {
          for (const line of text.split('\n')) {
            const match = /^step (\d+)/.exec(line);
            if (!match || !kill) continue;
            if (++seen === afterSteps) {
              killedAt.push(Number(match[1]));
              setTimeout(() => killChild('SIGKILL'), delayMs);
            }
          }
        },
      });
      if (kill && result.signal === 'SIGKILL') continue;
      expect(result.timedOut).toBe(false);
      expect(result.code, result.stderr).toBe(0);
      complete = result.stdout.includes('complete');
    }
    expect(complete).toBe(true);
    expect(killedAt.length).toBe(KILLS);
    // No temporary file of a killed writer survives the next write.
    expect(readdirSync(dir).filter((name) => name.includes('.tmp-'))).toEqual([]);

    const straight = resumeSetup();
    await straight.trainer.fit(straight.sets, { steps: STEPS });
    const resumed = mt.load(out);
    for (const [name, value] of Object.entries(straight.model.stateDict())) {
      expect(
        Buffer.from((resumed[name]!.dataSync() as Float32Array).buffer).equals(Buffer.from((value.dataSync() as Float32Array).buffer)),
        name,
      ).toBe(true);
    }
  }, 600_000);
});
