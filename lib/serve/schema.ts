/**
 * The server's schemas, one per concept: its options, and the body of POST /v1/predict (built per
 * run, so an unknown task is refused by name). The OpenAPI description is generated from them
 * (z.toJSONSchema), so the document and the validation cannot drift apart.
 */
import { z } from 'zod';
import { nonNegativeInt, positiveInt } from '../schema.ts';

/** The routes' settings (servePlugin's options besides the predictor). */
export const ServeSettingsSchema = z.strictObject({
  /** Most inputs one forward takes: concurrent requests are coalesced up to it. 1: no batching. */
  maxBatch: positiveInt.max(4096).default(32),
  /** Longest wait, after a request arrives, for others to join its forward (ms). 0: none. */
  maxDelayMs: nonNegativeInt.max(10_000).default(5),
  /** Most inputs waiting; beyond it requests get 503 with Retry-After. */
  maxQueue: positiveInt.max(1_000_000).default(1024),
  /** A request not answered within this time gets 504 (ms). */
  requestTimeoutMs: positiveInt.max(3_600_000).default(30_000),
  /** Largest request body (bytes); larger ones get 413. */
  bodyLimit: positiveInt.max(1 << 30).default(1 << 20),
  /** Most inputs in one request. */
  maxInputs: positiveInt.max(100_000).default(256),
  /** Longest text or pair of one input, in characters. */
  maxTextLength: positiveInt.max(1_000_000).default(10_000),
  /** Serve Prometheus metrics at GET /metrics. */
  metrics: z.boolean().default(false),
  /** Seconds a refused (503) client is told to wait (Retry-After). */
  retryAfterSeconds: positiveInt.max(3600).default(1),
});

/** mt.serve's options: the settings, Fastify's logger, and how to load a run directory. */
export const ServeOptionsSchema = ServeSettingsSchema.extend({
  /** Fastify's logger: true (info, JSON lines on stdout), false, or a pino options object. */
  logger: z.union([z.boolean(), z.looseObject({})]).default(true),
  /** When serve loads a run directory: which weights, on which device, at which precision. */
  weights: z.enum(['best', 'final']).optional(),
  device: z.string().optional(),
  precision: z.enum(['fp32', 'bf16', 'int8']).optional(),
});

export type ServeSettings = z.input<typeof ServeSettingsSchema>;
export type ServeOptions = z.input<typeof ServeOptionsSchema>;
export type ResolvedServeOptions = z.output<typeof ServeOptionsSchema>;

/** POST /v1/predict's body for a run with these tasks. */
export function predictRequestSchema(taskNames: string[], limits: { maxInputs: number; maxTextLength: number }) {
  const text = z.string().max(limits.maxTextLength, { error: `expected at most ${limits.maxTextLength} characters` });
  const input = z.union([text, z.strictObject({ text, pair: text.optional() })]);
  const task = z.enum(taskNames as [string, ...string[]]);
  return z.strictObject({
    inputs: z
      .array(input)
      .min(1, { error: 'expected at least one input' })
      .max(limits.maxInputs, { error: `expected at most ${limits.maxInputs} inputs in one request` }),
    tasks: z
      .array(task)
      .min(1)
      .refine((t) => new Set(t).size === t.length, { error: 'names a task twice' })
      .optional(),
    topK: positiveInt.max(1000).optional(),
  });
}
