/**
 * The HTTP server (lib/serve) on a tiny trained phonetics run, on loopback ports: predictions over
 * HTTP equal run.predict; every bad request gets its status and a message naming the field; 2,000
 * requests at concurrency 32 with 10 % malformed ones lose or mix up nothing and keep RSS flat;
 * overload answers 503 with Retry-After and recovers; a client that goes away leaves the server
 * healthy; a request past its time gets 504; the CLI's `serve` drains on SIGTERM and exits 0.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as mt from '../../lib/index.ts';
import { trainRun } from '../../lib/run/run.ts';
import { rng } from '../helpers/train.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
const cli = path.join(root, 'lib', 'cli.ts');
const TASKS = ['syllables', 'gender'];
// RSS may grow by at most this much between the load test's 1,000th request and its end (V8 collects
// lazily: with gc() forced after every 1,000 requests, 6,000 requests stayed within 397-421 MiB).
const RSS_BOUND_BYTES = 64 * 1024 * 1024;

/** Lower-case pseudo-words, seeded. */
function words(count: number, seed: number): string[] {
  const random = rng(seed);
  const letters = 'abcdefghijklmnoprstuvwy';
  return Array.from({ length: count }, () =>
    Array.from({ length: 3 + Math.floor(random() * 8) }, () => letters[Math.floor(random() * letters.length)]).join(''),
  );
}

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

async function post(base: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; json: any; headers: Headers }> {
  const response = await fetch(`${base}/v1/predict`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
}

/** Runs `count` calls of `task(i)` with at most `concurrency` in flight. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

describe('mt.serve on a phonetics run', () => {
  const base = mkdtempSync(path.join(tmpdir(), 'mtl-serve-'));
  const dir = path.join(base, 'run');
  let run: mt.RunPredictor;

  beforeAll(async () => {
    const config = {
      data: { source: 'phonetics', tasks: TASKS, trainLimit: 1000, evalLimit: 40 },
      model: { encoder: { numLayers: 1, dModel: 32, nhead: 2, dimFeedforward: 64, dropout: 0.1 } },
      trainer: { batchSize: 16, optimizer: { kind: 'adamW', lr: 0.003 }, seed: 0 },
      steps: 20,
      evalEvery: 20,
      threads: 1,
    };
    const file = path.join(base, 'config.json');
    writeFileSync(file, JSON.stringify(config));
    await trainRun(file, dir);
    run = await mt.loadRun(dir);
  }, 300_000);

  afterAll(() => run?.dispose());

  it('answers as run.predict does; health, metadata, OpenAPI and metrics', async () => {
    const app = await mt.serve(dir, { logger: false, metrics: true });
    const url = await listen(app);
    try {
      const inputs = ['hello', 'world', 'banana', 'computer'];
      const answered = await post(url, { inputs, topK: 2 });
      expect(answered.status).toBe(200);
      expect(answered.json.predictions).toEqual(await run.predict(inputs, { topK: 2 }));
      const one = await post(url, { inputs: ['mary'], tasks: ['gender'] });
      expect(one.json.predictions).toEqual(await run.predict(['mary'], { tasks: ['gender'] }));

      expect(await (await fetch(`${url}/v1/health`)).json()).toEqual({ status: 'ok', queuedInputs: 0 });
      const metadata = await (await fetch(`${url}/v1/metadata`)).json();
      expect(metadata.tasks.map((t: { name: string }) => t.name)).toEqual(TASKS);
      expect(metadata.tasks[1].labels).toEqual(['female', 'male']);
      expect(metadata.parameters.total).toBeGreaterThan(0);
      expect(metadata.serving.maxBatch).toBe(32);
      const openapi = await (await fetch(`${url}/v1/openapi.json`)).json();
      const schema = openapi.paths['/v1/predict'].post.requestBody.content['application/json'].schema;
      expect(Object.keys(schema.properties).sort()).toEqual(['inputs', 'tasks', 'topK']);
      expect(schema.required).toEqual(['inputs']);
      expect(schema.properties.tasks.items.enum).toEqual(TASKS);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/mtl_serve_requests_total\{route="\/v1\/predict",status="200"\} 2/);
      expect(metrics).toMatch(/mtl_serve_batch_inputs_count 2/);
      expect(metrics).toMatch(/mtl_serve_request_duration_seconds_bucket/);
      expect(metrics).toMatch(/mtl_serve_queue_inputs 0/);
    } finally {
      await app.close();
    }
  });

  it('refuses every bad request with its status and a message naming the field', async () => {
    const app = await mt.serve(run, { logger: false, maxInputs: 4, maxTextLength: 20, bodyLimit: 2048 });
    const url = await listen(app);
    try {
      const cases: [unknown, number, RegExp][] = [
        ['{"inputs": [', 400, /JSON/i],
        [{}, 400, /body\.inputs: is required/],
        [{ inputs: 'hello' }, 400, /body\.inputs: expected an array/],
        [{ inputs: [] }, 400, /body\.inputs: expected at least one input/],
        [{ inputs: [42] }, 400, /body\.inputs\.0/],
        [{ inputs: [{ text: 'a', colour: 1 }] }, 400, /body\.inputs\.0.*colour|colour/],
        [{ inputs: ['a'], tasks: ['nope'] }, 400, /body\.tasks\.0: expected one of "syllables", "gender", got "nope"/],
        [{ inputs: ['a'], tasks: ['gender', 'gender'] }, 400, /body\.tasks: names a task twice/],
        [{ inputs: ['a'], topK: 0 }, 400, /body\.topK/],
        [{ inputs: ['a'], colour: 1 }, 400, /body\.colour: is not an option here/],
        [{ inputs: ['x'.repeat(21)] }, 400, /body\.inputs\.0: .*20 characters/],
        [{ inputs: ['a', 'b', 'c', 'd', 'e'] }, 400, /body\.inputs: expected at most 4 inputs in one request/],
        [{ inputs: [{ text: 'a', pair: 'b' }] }, 400, /'inputs\[0\]\.pair' is given/],
        [{ inputs: ['y'.repeat(19)], pad: 'z'.repeat(3000) }, 413, /too large|body/i],
      ];
      for (const [body, status, message] of cases) {
        const r = await post(url, body);
        expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(status);
        expect(r.json.error.message, JSON.stringify(body).slice(0, 80)).toMatch(message);
        expect(r.json.error.code).toMatch(/^ERR_/);
      }
      const wrongType = await post(url, '<inputs/>', { headers: { 'content-type': 'application/xml' } });
      expect(wrongType.status).toBe(415);
      expect((await fetch(`${url}/v2/predict`)).status).toBe(404);
      expect((await post(url, { inputs: ['still fine'] })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('2,000 requests at concurrency 32, 10 % malformed: none lost or mixed up, RSS flat', async () => {
    const app = await mt.serve(run, { logger: false, maxBatch: 32, maxDelayMs: 2 });
    const url = await listen(app);
    const vocabulary = words(200, 7);
    const expected = new Map<string, number>();
    const reference = await run.predict(vocabulary, { tasks: ['gender'], batchSize: 1 });
    vocabulary.forEach((w, i) => expected.set(w, (reference[i]!.gender as mt.ClassificationPrediction).probabilities.male!));
    const random = rng(3);
    const plan = Array.from({ length: 2000 }, (_, i) => ({
      malformed: random() < 0.1,
      inputs: Array.from({ length: 1 + Math.floor(random() * 3) }, () => vocabulary[Math.floor(random() * vocabulary.length)]!),
      i,
    }));
    const counts = { ok: 0, refused: 0, wrong: 0, other: 0 };
    let rssWarm = 0;
    try {
      await pool(plan.length, 32, async (k) => {
        const { malformed, inputs } = plan[k]!;
        const r = await post(url, malformed ? (k % 2 ? { inputs: inputs.map(() => 7) } : '{"inputs": ["') : { inputs, tasks: ['gender'] });
        if (malformed) {
          if (r.status === 400) counts.refused++;
          else counts.other++;
        } else if (
          r.status === 200 &&
          r.json.predictions.length === inputs.length &&
          r.json.predictions.every((row: any, j: number) => Math.abs(row.gender.probabilities.male - expected.get(inputs[j]!)!) < 1e-4)
        ) {
          counts.ok++;
        } else {
          counts.wrong++;
        }
        if (k === 1000) rssWarm = process.memoryUsage().rss;
      });
      const rssEnd = process.memoryUsage().rss;
      console.log(
        `load: ${JSON.stringify(counts)}, RSS after 1,000 requests ${(rssWarm / 2 ** 20).toFixed(1)} MiB, at the end ${(rssEnd / 2 ** 20).toFixed(1)} MiB`,
      );
      expect(counts.wrong).toBe(0);
      expect(counts.other).toBe(0);
      expect(counts.ok + counts.refused).toBe(2000);
      expect(counts.refused).toBe(plan.filter((p) => p.malformed).length);
      expect(rssEnd - rssWarm).toBeLessThan(RSS_BOUND_BYTES);
      expect(await (await fetch(`${url}/v1/health`)).json()).toEqual({ status: 'ok', queuedInputs: 0 });
    } finally {
      await app.close();
    }
  }, 240_000);

  it('a full queue answers 503 with Retry-After, then recovers', async () => {
    const app = await mt.serve(run, { logger: false, maxBatch: 4, maxDelayMs: 0, maxQueue: 16, retryAfterSeconds: 2 });
    const url = await listen(app);
    try {
      const inputs = words(8, 11);
      const results = await Promise.all(Array.from({ length: 64 }, () => post(url, { inputs })));
      const refused = results.filter((r) => r.status === 503);
      const answered = results.filter((r) => r.status === 200);
      expect(refused.length).toBeGreaterThan(0);
      expect(answered.length).toBeGreaterThan(0);
      expect(refused.length + answered.length).toBe(64);
      for (const r of refused) {
        expect(r.headers.get('retry-after')).toBe('2');
        expect(r.json.error.code).toBe('ERR_QUEUE_FULL');
      }
      const expected = await run.predict(inputs, { batchSize: 4 });
      for (const r of answered)
        expect(r.json.predictions.map((p: any) => p.gender.label)).toEqual(
          expected.map((p) => (p.gender as mt.ClassificationPrediction).label),
        );
      const after = await post(url, { inputs });
      expect(after.status).toBe(200);
      expect(await (await fetch(`${url}/v1/health`)).json()).toEqual({ status: 'ok', queuedInputs: 0 });
    } finally {
      await app.close();
    }
  });

  it('a client that goes away mid-request leaves the server healthy; a request past its time gets 504', async () => {
    const app = await mt.serve(run, { logger: false, maxBatch: 64, maxDelayMs: 400, requestTimeoutMs: 150 });
    const url = await listen(app);
    try {
      const gone = new AbortController();
      const pending = post(url, { inputs: ['hello'] }, { signal: gone.signal }).catch((e) => e);
      await new Promise((r) => setTimeout(r, 50));
      gone.abort();
      expect(await pending).toBeInstanceOf(Error);
      await new Promise((r) => setTimeout(r, 50));
      expect(await (await fetch(`${url}/v1/health`)).json()).toEqual({ status: 'ok', queuedInputs: 0 });
      // maxDelayMs 400 > requestTimeoutMs 150: a lone request waits past its time.
      const late = await post(url, { inputs: ['hello'] });
      expect(late.status).toBe(504);
      expect(late.json.error.code).toBe('ERR_TIMEOUT');
    } finally {
      await app.close();
    }
    const quick = await mt.serve(run, { logger: false });
    const quickUrl = await listen(quick);
    try {
      expect((await post(quickUrl, { inputs: ['hello'] })).json.predictions).toEqual(await run.predict(['hello']));
    } finally {
      await quick.close();
    }
  });

  it('mounts as a plugin under a prefix of an app of your own; refuses bad options by name', async () => {
    const app = Fastify();
    await app.register(mt.servePlugin, { predictor: run, prefix: '/models/phonetics', maxBatch: 8 });
    const url = await listen(app);
    try {
      const r = await fetch(`${url}/models/phonetics/v1/predict`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: ['hello'] }),
      });
      expect((await r.json()).predictions).toEqual(await run.predict(['hello']));
      // A request above maxBatch runs alone, in passes of maxBatch inputs.
      const many = words(40, 13);
      const big = await (
        await fetch(`${url}/models/phonetics/v1/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: many, tasks: ['gender'] }),
        })
      ).json();
      const expected = await run.predict(many, { tasks: ['gender'], batchSize: 1 });
      big.predictions.forEach((row: any, i: number) =>
        expect(
          Math.abs(row.gender.probabilities.male - (expected[i]!.gender as mt.ClassificationPrediction).probabilities.male!),
        ).toBeLessThan(1e-4),
      );
      const openapi = await (await fetch(`${url}/models/phonetics/v1/openapi.json`)).json();
      expect(Object.keys(openapi.paths)).toContain('/models/phonetics/v1/predict');
    } finally {
      await app.close();
    }
    await expect(mt.serve(run, { maxBatch: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining('serve.options.maxBatch'),
    });
    await expect(mt.serve(run, { colour: 1 } as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining('serve.options.colour'),
    });
    await expect(mt.serve(run, { precision: 'int8' })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining('mt.loadRun'),
    });
    await expect(mt.serve(42 as never)).rejects.toMatchObject({
      code: 'ERR_INVALID_ARG',
      message: expect.stringContaining("'run' must be a run directory"),
    });
    const bad = Fastify();
    await expect(bad.register(mt.servePlugin, { predictor: run, logger: true } as never)).rejects.toMatchObject({
      message: expect.stringContaining('servePlugin.options.logger'),
    });
  });

  it("the CLI's serve drains on SIGTERM during load: every request sent before it is answered, exit 0", async () => {
    // Requests wait in the queue (maxDelayMs 10 s, maxBatch above their total) until SIGTERM, which
    // must run them at once and answer every one before exiting.
    const child = spawn(tsx, [cli, 'serve', dir, '--port', '0', '--max-delay-ms', '10000', '--max-batch', '1024'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in ${output}`)), 120_000);
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const found = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (found) {
          clearTimeout(timer);
          resolve(found[1]!);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${output}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const inputs = words(16, 5);
    const inFlight = Array.from({ length: 40 }, () => post(url, { inputs }));
    // Until the server holds all 40 (640 inputs): then SIGTERM arrives while they wait.
    for (let i = 0; i < 200; i++) {
      const health = await (await fetch(`${url}/v1/health`)).json();
      if (health.queuedInputs === 40 * inputs.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const sent = performance.now();
    child.kill('SIGTERM');
    const results = await Promise.all(
      inFlight.map((p) => p.catch((e: Error) => ({ status: -1, json: e.message, headers: new Headers() }))),
    );
    expect(await exited).toBe(0);
    // Answered at once on the signal, not after the 10 s wait.
    expect(performance.now() - sent).toBeLessThan(8000);
    expect(results.map((r) => r.status)).toEqual(results.map(() => 200));
    expect(output).toMatch(/draining/);
  }, 180_000);
});
