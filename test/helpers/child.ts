/** Runs a TypeScript file in a child Node process (through tsx) and reports how it ended: its exit
 * code or the signal that killed it (a crash), or that it outlived its time (a hang). */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Killed after `timeoutMs`. */
  timedOut: boolean;
  stdout: string;
  stderr: string;
  /** Milliseconds from spawn to exit. */
  ms: number;
}

export function helperPath(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

export interface ChildOptions {
  timeoutMs: number;
  env?: Record<string, string>;
  /** Called with each chunk of stdout; may kill the child (the returned function). */
  onStdout?: (text: string, kill: (signal?: NodeJS.Signals) => void) => void;
}

export function runChild(script: string, args: string[], options: ChildOptions): Promise<ChildResult> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...options.env },
  });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    child.kill(signal);
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    options.onStdout?.(chunk.toString(), kill);
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, timedOut, stdout, stderr, ms: Date.now() - started });
    });
  });
}
