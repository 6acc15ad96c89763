/**
 * Serving a trained run over HTTP on Fastify: `await mt.serve('runs/mine')` gives a Fastify
 * instance (call `listen`), `app.register(mt.servePlugin, { predictor })` mounts the same routes in
 * an app of your own. docs/serving.md describes the routes, the settings and measured figures.
 *
 *   POST /v1/predict   { inputs: [text | { text, pair }], tasks?, topK? } → { predictions: [row per input] }
 *   GET  /v1/health    { status: 'ok' | 'draining', queuedInputs }
 *   GET  /v1/metadata  the run's tasks, labels, input fields, sizes, and the serving settings
 *   GET  /v1/openapi.json   OpenAPI 3.1, generated from the request schema
 *   GET  /metrics      Prometheus metrics (option `metrics`)
 *
 * Requests are validated (400 naming the field), bodies are bounded (413), concurrent requests are
 * coalesced (DynamicBatcher) into predict calls that run on a native worker thread, a full queue
 * answers 503 with Retry-After, a request past its time 504; close() (and SIGTERM/SIGINT in the CLI)
 * stops accepting, finishes what is queued and running, then releases the model.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import * as prom from 'prom-client';
import { z } from 'zod';
import { argumentError, ErrorCode, TorchError } from '../errors.ts';
import { loadRun, type PredictInput, type RunPredictor } from '../predict/predictor.ts';
import { parse } from '../schema.ts';
import { describe, optionsObject } from '../validate.ts';
import { CancelledError, DynamicBatcher, QueueFullError } from './batcher.ts';
import {
  predictRequestSchema,
  ServeOptionsSchema,
  ServeSettingsSchema,
  type ResolvedServeOptions,
  type ServeOptions,
  type ServeSettings,
} from './schema.ts';

export type { ServeOptions, ServeSettings } from './schema.ts';

/** What the plugin serves: a run predictor (mt.loadRun), and the settings. */
export interface ServePluginOptions extends ServeSettings {
  predictor: RunPredictor;
}

interface ErrorBody {
  error: { code: string; message: string };
}

function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

class Metrics {
  readonly registry = new prom.Registry();
  readonly requests = new prom.Counter({
    name: 'mtl_serve_requests_total',
    help: 'HTTP requests by route and status',
    labelNames: ['route', 'status'],
    registers: [this.registry],
  });
  readonly latency = new prom.Histogram({
    name: 'mtl_serve_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['route'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly batchInputs = new prom.Histogram({
    name: 'mtl_serve_batch_inputs',
    help: 'Inputs per forward',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
    registers: [this.registry],
  });
  readonly batchRequests = new prom.Histogram({
    name: 'mtl_serve_batch_requests',
    help: 'Requests coalesced per forward',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly queued = new prom.Gauge({ name: 'mtl_serve_queue_inputs', help: 'Inputs waiting for a forward', registers: [this.registry] });
}

/** The routes, as a Fastify plugin (encapsulated: its error handler covers its own routes only). */
export const servePlugin: FastifyPluginAsync<ServePluginOptions> = async (app, pluginOptions) => {
  const where = 'servePlugin';
  // Fastify's own register options (prefix, logLevel, ...) come along; they are Fastify's to act on.
  const {
    predictor,
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _logSerializers,
    ...rest
  } = optionsObject(pluginOptions, where) as ServePluginOptions & Record<string, unknown>;
  if (!predictor || typeof (predictor as RunPredictor).predict !== 'function') {
    throw argumentError(where, `'predictor' must be a run predictor (mt.loadRun), got ${describe(predictor)}`);
  }
  const options = parse(ServeSettingsSchema, rest, `${where}.options`);
  const taskNames = predictor.tasks.map((t) => t.name);
  const requestSchema = predictRequestSchema(taskNames, options);
  const batcher = new DynamicBatcher((inputs, o) => predictor.predict(inputs, o), options);
  const metrics = options.metrics ? new Metrics() : undefined;
  let draining = false;
  if (metrics) {
    batcher.onBatch = (inputs, requests) => {
      metrics.batchInputs.observe(inputs);
      metrics.batchRequests.observe(requests);
    };
  }

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    const torchStatus =
      error instanceof TorchError
        ? error.code === ErrorCode.INVALID_ARG
          ? 400
          : error.code === ErrorCode.TOO_LARGE
            ? 413
            : undefined
        : undefined;
    const status = torchStatus ?? (error.statusCode && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    const code =
      error instanceof TorchError
        ? error.code
        : status === 413
          ? ErrorCode.TOO_LARGE
          : status < 500
            ? ErrorCode.INVALID_ARG
            : ErrorCode.NATIVE;
    // Fastify's own messages (bad JSON, body too large, wrong content type) are safe to show.
    const message = status < 500 || error instanceof TorchError ? error.message : 'internal error';
    return reply.status(status).send(errorBody(code, message));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send(errorBody(ErrorCode.NOT_FOUND, `no route ${request.method} ${request.url}`)),
  );

  if (metrics) {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.routeOptions.url ?? 'unknown';
      metrics.requests.inc({ route, status: String(reply.statusCode) });
      metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    });
  }

  app.post('/v1/predict', { bodyLimit: options.bodyLimit }, async (request, reply) => {
    if (draining)
      return reply
        .status(503)
        .header('retry-after', String(options.retryAfterSeconds))
        .send(errorBody(ErrorCode.DRAINING, 'the server is shutting down'));
    const body = parse(requestSchema, request.body, 'body');
    const inputs = body.inputs as PredictInput[];
    // Dropped while it waits when the client goes away or its time is up.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort('timeout'), options.requestTimeoutMs);
    const onClose = () => {
      if (!reply.raw.writableFinished) abort.abort('client closed the connection');
    };
    reply.raw.on('close', onClose);
    try {
      const work = batcher.submit(
        inputs,
        { ...(body.tasks ? { tasks: body.tasks } : {}), ...(body.topK ? { topK: body.topK } : {}) },
        abort.signal,
      );
      metrics?.queued.set(batcher.queuedInputs);
      // A request whose call already runs is answered 504 at its deadline; the rows are dropped.
      const timeout = new Promise<never>((_, reject) =>
        abort.signal.addEventListener('abort', () => reject(new CancelledError(String(abort.signal.reason))), { once: true }),
      );
      work.catch(() => undefined);
      const predictions = await Promise.race([work, timeout]);
      return { predictions };
    } catch (error) {
      if (error instanceof QueueFullError) {
        return reply
          .status(503)
          .header('retry-after', String(options.retryAfterSeconds))
          .send(errorBody(ErrorCode.QUEUE_FULL, error.message));
      }
      if (error instanceof CancelledError) {
        if (abort.signal.reason === 'timeout')
          return reply.status(504).send(errorBody(ErrorCode.TIMEOUT, `no answer within ${options.requestTimeoutMs} ms`));
        return reply.status(499).send(errorBody(ErrorCode.CANCELLED, 'the client closed the connection'));
      }
      throw error;
    } finally {
      clearTimeout(timer);
      reply.raw.off('close', onClose);
      metrics?.queued.set(batcher.queuedInputs);
    }
  });

  app.get('/v1/health', async () => ({ status: draining ? 'draining' : 'ok', queuedInputs: batcher.queuedInputs }));

  app.get('/v1/metadata', async () => ({
    ...predictor.metadata,
    serving: {
      maxBatch: options.maxBatch,
      maxDelayMs: options.maxDelayMs,
      maxQueue: options.maxQueue,
      maxInputs: options.maxInputs,
      maxTextLength: options.maxTextLength,
      requestTimeoutMs: options.requestTimeoutMs,
      bodyLimit: options.bodyLimit,
    },
  }));

  const openapi = openApiDocument(requestSchema, app.prefix);
  app.get('/v1/openapi.json', async () => openapi);

  if (metrics) {
    app.get('/metrics', async (_, reply) =>
      reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

  // Graceful drain: once close() begins, new predictions are refused, queued and running ones finish.
  app.addHook('preClose', async () => {
    draining = true;
    batcher.flush();
  });
  // Answers sent while draining close their connection: a keep-alive connection that went idle
  // after close() began would hold the server open for its keepAliveTimeout (72 s by default).
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    batcher.flush();
    await batcher.idle();
  });
};

function openApiDocument(requestSchema: z.ZodType, prefix: string) {
  const error = {
    type: 'object',
    properties: {
      error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] },
    },
  };
  const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: error } } });
  const json = (schema: object, description: string) => ({ description, content: { 'application/json': { schema } } });
  const request = z.toJSONSchema(requestSchema, { target: 'openapi-3.0' });
  return {
    openapi: '3.0.3',
    info: { title: 'mtl-torch run server', version: '1' },
    paths: {
      [`${prefix}/v1/predict`]: {
        post: {
          summary: 'Predictions for each input and task, as run.predict gives them',
          requestBody: { required: true, content: { 'application/json': { schema: request } } },
          responses: {
            200: json(
              {
                type: 'object',
                properties: { predictions: { type: 'array', items: { type: 'object', additionalProperties: { type: 'object' } } } },
              },
              'One row per input: an answer per task',
            ),
            400: errorResponse('The body is not valid (the message names the field)'),
            413: errorResponse('The body is larger than bodyLimit'),
            503: errorResponse('The queue is full or the server is shutting down (see Retry-After)'),
            504: errorResponse('No answer within requestTimeoutMs'),
          },
        },
      },
      [`${prefix}/v1/health`]: {
        get: {
          summary: 'Liveness and queue depth',
          responses: {
            200: json(
              { type: 'object', properties: { status: { type: 'string', enum: ['ok', 'draining'] }, queuedInputs: { type: 'integer' } } },
              'Health',
            ),
          },
        },
      },
      [`${prefix}/v1/metadata`]: {
        get: {
          summary: "The run's tasks, labels, input fields and sizes, and the serving settings",
          responses: { 200: json({ type: 'object' }, 'Metadata') },
        },
      },
    },
  };
}

/**
 * A Fastify instance serving a run (a directory, loaded with mt.loadRun and released on close, or
 * a predictor you loaded, left to you), ready but not listening: `await app.listen({ port })`.
 */
export async function serve(run: string | RunPredictor, optionsIn: ServeOptions = {}): Promise<FastifyInstance> {
  const where = 'serve';
  const options: ResolvedServeOptions = parse(ServeOptionsSchema, optionsObject(optionsIn, where), `${where}.options`);
  let predictor: RunPredictor;
  let owned = false;
  if (typeof run === 'string') {
    predictor = await loadRun(run, {
      ...(options.weights ? { weights: options.weights } : {}),
      ...(options.device ? { device: options.device } : {}),
      ...(options.precision ? { precision: options.precision } : {}),
    });
    owned = true;
  } else if (run && typeof run === 'object' && typeof run.predict === 'function') {
    if (options.weights || options.device || options.precision) {
      throw argumentError(
        where,
        "'options.weights', 'options.device' and 'options.precision' apply to a run directory; this predictor is loaded already (pass them to mt.loadRun)",
      );
    }
    predictor = run;
  } else {
    throw argumentError(where, `'run' must be a run directory or a run predictor (mt.loadRun), got ${describe(run)}`);
  }
  const app = Fastify({
    logger: options.logger,
    bodyLimit: options.bodyLimit,
    // Keep-alive connections that idle are closed on close(), so a drain does not wait for them.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  const { logger: _logger, weights: _w, device: _d, precision: _p, ...pluginSettings } = options;
  await app.register(servePlugin, { predictor, ...pluginSettings });
  if (owned) app.addHook('onClose', async () => predictor.dispose());
  await app.ready();
  return app;
}

/** Closes `app` on SIGTERM and SIGINT (draining it), then exits 0; a second signal exits 1 at once. */
export function closeOnSignals(app: FastifyInstance): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    app.log.info({ signal }, 'draining');
    app.close().then(
      () => process.exit(0),
      (error) => {
        app.log.error({ err: error }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
