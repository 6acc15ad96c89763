// Child process of the resume test: continue the run from a checkpoint, save the final weights.
import * as mt from '../../lib/index.ts';
import { RESUME_STEPS, resumeSetup } from './resume-setup.ts';

const [checkpoint, out] = process.argv.slice(2);
const { model, trainer, sets } = resumeSetup();
const history = await trainer.fit(sets, { steps: 2 * RESUME_STEPS, resumeFrom: checkpoint });
if (history.steps !== 2 * RESUME_STEPS) throw new Error(`resumed run ended at step ${history.steps}`);
mt.save(out!, model.stateDict());
