/**
 * The command line's training progress: redrawn bars (cli-progress) on a terminal; in a log (stdout or
 * stderr not a terminal) one plain line per model every few percent of its steps, and at its last
 * step: step, loss, steps/s, ETA. Written to stderr, as the bars are, so stdout keeps the results.
 */
import cliProgress from 'cli-progress';
import type { RunProgress } from './run/run.ts';

export interface ProgressReporter {
  update(progress: RunProgress): void;
  stop(): void;
}

/** "42 s", "3 min 05 s", "1 h 02 min": a duration for an ETA. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

const totalLoss = (losses: Record<string, number>) => Object.values(losses).reduce((a, b) => a + b, 0);

/**
 * Plain lines for logs: a model's line comes when its step crosses the next multiple of `percent`
 * of its total (and at the last step), so a run of any length writes about 100 / percent lines per model.
 */
export function progressLines(write: (line: string) => void, percent = 5): ProgressReporter {
  const next = new Map<string, number>();
  return {
    update({ model, event, totalSteps }: RunProgress) {
      if (event.kind !== 'step') return;
      const every = Math.max(1, Math.ceil((totalSteps * percent) / 100));
      const due = next.get(model) ?? every;
      if (event.step < due && event.step !== totalSteps) return;
      next.set(model, (Math.floor(event.step / every) + 1) * every);
      const share = totalSteps > 0 ? Math.floor((100 * event.step) / totalSteps) : 100;
      const eta = event.stepsPerSecond > 0 ? formatDuration((totalSteps - event.step) / event.stepsPerSecond) : '?';
      write(
        `${model}: step ${event.step}/${totalSteps} (${share} %) | loss ${totalLoss(event.losses).toFixed(3)} | ` +
          `${event.stepsPerSecond.toFixed(1)} steps/s | ETA ${eta}\n`,
      );
    },
    stop() {}, // every line is complete when written: nothing to finish
  };
}

/** Redrawn bars, one per model, for a terminal. */
export function progressBars(): ProgressReporter {
  const bars = new cliProgress.MultiBar(
    {
      format: '{model} |{bar}| {value}/{total} steps | loss {loss} | {rate} steps/s | ETA {eta_formatted}',
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const byModel = new Map<string, cliProgress.SingleBar>();
  return {
    update({ model, event, totalSteps }: RunProgress) {
      if (event.kind !== 'step') return;
      if (!byModel.has(model)) byModel.set(model, bars.create(totalSteps, 0, { model: model.padEnd(18), loss: '-', rate: '-' }));
      byModel.get(model)!.update(event.step, { loss: totalLoss(event.losses).toFixed(3), rate: event.stepsPerSecond.toFixed(1) });
    },
    stop: () => bars.stop(),
  };
}

/** Bars when both stdout and stderr are terminals, plain lines on stderr otherwise. */
export function progressReporter(): ProgressReporter {
  return process.stdout.isTTY && process.stderr.isTTY ? progressBars() : progressLines((line) => process.stderr.write(line));
}
