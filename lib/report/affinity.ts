/**
 * What the diagnostics say (Fifty et al. 2021's lookahead affinity, measured by `diagnosticsEvery`):
 * each auxiliary task's verdict for the main tasks, and the best partition of the tasks into k groups.
 * The run report, `mtl-torch train`, `mtl-torch groups` and `compare` all read them from here.
 */
import { argumentError } from '../errors.ts';
import { insideNoise, spread, type Spread } from './spread.ts';

export interface DiagnosticsEvent {
  tasks: string[];
  affinity: number[][];
  cosine: number[][];
}

export interface Verdict {
  verdict: 'helps' | 'neutral' | 'hurts';
  affinity: Spread;
}

/**
 * Each auxiliary task's verdict for the main tasks from the lookahead affinity (Fifty et al. 2021):
 * affinity[a][m] = 1 − Lₘ(after a step on a's gradient)/Lₘ, averaged over the main tasks m, one value
 * per diagnostics event. Helps: its 95 % interval lies above 0; hurts: below; neutral: it contains 0.
 */
export function auxiliaryVerdicts(events: DiagnosticsEvent[], main: string[]): Record<string, Verdict> {
  const tasks = events[0]!.tasks;
  const out: Record<string, Verdict> = {};
  for (const aux of tasks.filter((t) => !main.includes(t))) {
    const values = events.map((e) => {
      const a = e.tasks.indexOf(aux);
      const mains = main.map((m) => e.tasks.indexOf(m)).filter((m) => m >= 0);
      return mains.reduce((s, m) => s + e.affinity[a]![m]!, 0) / mains.length;
    });
    const affinity = spread(values);
    const verdict = insideNoise(affinity) ? 'neutral' : affinity.mean > 0 ? 'helps' : 'hurts';
    out[aux] = { verdict, affinity };
  }
  return out;
}

export interface Grouping {
  k: number;
  groups: string[][];
  score: number;
}

/**
 * The best partition of the tasks into k groups for k = 1..K by total affinity (Fifty et al. 2021's
 * criterion without overlapping groups): a group G scores Σ_{i∈G} mean_{j∈G, j≠i} Z[j][i], Z[j][i] the
 * mean affinity of j's step on i's loss; a task alone scores 0. Every partition is tried (K ≤ 9).
 */
export function recommendGroups(events: DiagnosticsEvent[]): Grouping[] {
  if (events.length === 0) throw argumentError('groups', 'no diagnostics events: train with diagnosticsEvery');
  const tasks = events[0]!.tasks;
  if (tasks.length > 9) throw argumentError('groups', `${tasks.length} tasks have too many partitions to try (at most 9)`);
  const z = tasks.map((_, j) => tasks.map((_, i) => events.reduce((s, e) => s + e.affinity[j]![i]!, 0) / events.length));
  const groupScore = (group: number[]) =>
    group.length < 2
      ? 0
      : group.reduce((s, i) => s + group.filter((j) => j !== i).reduce((t, j) => t + z[j]![i]!, 0) / (group.length - 1), 0);
  const best = new Map<number, Grouping>();
  const visit = (index: number, groups: number[][]) => {
    if (index === tasks.length) {
      const score = groups.reduce((s, g) => s + groupScore(g), 0);
      const current = best.get(groups.length);
      if (!current || score > current.score)
        best.set(groups.length, { k: groups.length, groups: groups.map((g) => g.map((i) => tasks[i]!)), score });
      return;
    }
    for (const group of groups) {
      group.push(index);
      visit(index + 1, groups);
      group.pop();
    }
    groups.push([index]);
    visit(index + 1, groups);
    groups.pop();
  };
  visit(0, []);
  return [...best.values()].sort((a, b) => a.k - b.k);
}

/** A partition as text: groups split by ' | ', a group's tasks joined by `join`. */
export function partitionText(grouping: Grouping, join = ' + '): string {
  return grouping.groups.map((group) => group.join(join)).join(' | ');
}

/** The grouping recommendation as text: for each k, the best partition and its total affinity. */
export function groupingLines(grouping: Grouping[]): string[] {
  return [
    'task groups by total inter-task affinity (Fifty et al. 2021), best partition for each k:',
    ...grouping.map((g) => `  k=${g.k}: ${partitionText(g, '+')}   total affinity ${g.score.toExponential(3)}`),
  ];
}
