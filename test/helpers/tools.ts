/**
 * Optional tools of the test suite (Debian's python3 with numpy or torch, chromium, ...): where one is
 * missing, the tests that need it are reported as skipped with the reason; under CI=true, where
 * .ci/run installs every one of them, a missing tool is a failure instead, so CI cannot pass by
 * skipping.
 */
import { it } from 'vitest';

/**
 * `problem`: why the tool cannot be used here (undefined: it can). Returns whether to run the tests
 * that need it; when not, registers one test in their place that skips with the reason, or fails
 * under CI=true.
 */
export function requireTool(tool: string, problem: string | undefined): boolean {
  if (problem === undefined) return true;
  if (process.env.CI === 'true') {
    it(`needs ${tool}`, () => {
      throw new Error(`${tool}: ${problem}. CI=true, where every tool the tests need is installed: this skip is a failure`);
    });
  } else {
    it(`needs ${tool} (skipped: ${problem})`, (context) => context.skip(problem));
  }
  return false;
}
