/**
 * The express application of the ingest API: routes of SPEC §3, OpenAI-shaped errors for everything (including
 * express's own body-parser failures, unknown routes and wrong methods), and the intake metrics.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createAdminRouter } from '@batchbridge/admin-ui';
import { loadPriceTable } from '@batchbridge/config';
import { ENDPOINTS, isTerminal, OPEN_STATUSES, type RequestOutcome } from '@batchbridge/domain';
import { metricsHandler } from '@batchbridge/metrics';
import type { Runtime } from '@batchbridge/runtime';
import type { ResolveHost } from '@batchbridge/webhooks';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Cluster, type Redis } from 'ioredis';
import { requireTenant, tenantOf } from './auth.js';
import { BudgetGate } from './budget.js';
import { CallbackPolicy } from './callback-policy.js';
import { CapacityView } from './capacity.js';
import { CHAT_ENDPOINT, chatCompletionsCore, chatCompletionsHandler } from './chat-completions-route.js';
import { chatFastPath, type ErrorReporter } from './chat-fast-path.js';
import { renderDocsPage } from './docs-page.js';
import { ApiError, toApiError } from './errors.js';
import { batchesHandlers } from './facade/batches-routes.js';
import { FacadeDriver } from './facade/driver.js';
import { filesHandlers } from './facade/files-routes.js';
import { ModelCatalog } from './model-catalog.js';
import { listedModels, modelAllowed, PROFILE_DEFAULT_MODELS } from './model-policy.js';
import { openApiDocument } from './openapi.js';
import { ProviderCatalog } from './provider-catalog.js';
import { providerEventsHandler } from './provider-events.js';
import { RateLimiter } from './rate-limiter.js';
import { requestsHandlers } from './requests-routes.js';
import { usageHandler } from './usage-routes.js';
import type { HoldDeps } from './wait/hold.js';
import { OutcomeWaiter } from './wait/outcome-waiter.js';
import { webhookHandlers } from './webhook-routes.js';

export interface IngestAppOptions {
  /** How callback host names are resolved (tests map names to addresses). @defaultValue the system resolver */
  resolveHost?: ResolveHost;
  /** SSE comment interval of a streamed request that waits. @defaultValue 15 000 ms */
  streamKeepAliveMs?: number;
  /** How often the Batch API driver looks for batches due for a step (SPEC §12). @defaultValue 1 000 ms */
  facadeSweepMs?: number;
}

export interface IngestApp {
  app: express.Express;
  /** Serves a plain chat-completion request without express and answers true, or answers false (see `chat-fast-path.ts`). */
  fastPath: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** From now on the fast path answers with `Connection: close` (the server is shutting down). */
  markClosing(): void;
  /** Redis answers and the global capacity is not reached. */
  ready(): Promise<boolean>;
  /** Stops the background refresh of the provider's model list, and answers every waiting request (202). */
  stop(): Promise<void>;
}

type Handler = (req: Request, res: Response, next: NextFunction) => unknown;

export function createIngestApp(runtime: Runtime, options: IngestAppOptions = {}): IngestApp {
  const { config, metrics, store, logger } = runtime;
  const m = metrics.m;
  const capacity = new CapacityView(store, config.redis.partitions);
  const callbacks = new CallbackPolicy({
    allowCidrs: config.webhook.allowCidrs,
    ...(options.resolveHost ? { resolve: options.resolveHost } : {}),
  });
  // The one provider of UPSTREAM_* lists its models through its adapter when it speaks another protocol (Anthropic).
  // (With PROVIDERS_FILE this catalogue is not started: ProviderCatalog lists every provider through its adapter.)
  const viaAdapter =
    !config.providersFile && runtime.provider !== undefined && (config.upstream.profile.api ?? 'openai') !== 'openai';
  const models = new ModelCatalog(
    viaAdapter ? runtime.providers.adapter('default') : runtime.provider,
    PROFILE_DEFAULT_MODELS[config.upstream.profile.name],
    runtime.tenants.tenants,
    logger,
  );
  // Several providers (PROVIDERS_FILE): each one's model list, routing by model, circuits (SPEC §11).
  const providers = config.providersFile ? new ProviderCatalog(runtime.providers, store, logger) : undefined;
  if (providers) providers.start();
  else models.start();
  const auth = requireTenant(runtime.tenants);
  // Requests that wait for their outcome (transparent mode): one subscriber connection per process, whatever the
  // number of waiting connections. A worker-role connection: it must queue its SUBSCRIBE until connected and resubscribe
  // after a reconnect, where the request-path connection fails fast.
  // Reads only what the answer shows (status, response, error): one HMGET per finished request.
  const waiter = new OutcomeWaiter<RequestOutcome>({
    subscriber: duplicateConnection(runtime.workerRedis),
    channels: runtime.keys.allPartitions().map((p) => runtime.keys.partitionKeys(p).outcomes),
    read: (ids) => store.requests.outcomes(ids),
    isFinal: (r) => isTerminal(r.status),
    onError: (err) => logger.warn({ err: (err as Error).message }, 'outcome waiter: re-read failed; retried'),
  });
  // Every outcome series from the start, at 0: a dashboard rate() over a series that appears late misses its first step.
  for (const outcome of ['finished', 'timeout', 'aborted', 'closed']) m.waitOutcomes.inc({ outcome }, 0);
  // Each provider's batch events (SPEC §13) from the start too: a refused one must show as a step, not a new series.
  const providerIds = config.providers.length > 0 ? config.providers.map((x) => x.id) : ['default'];
  for (const provider of providerIds) {
    for (const outcome of ['received', 'verified', 'refused', 'polled']) m.providerEvents.inc({ provider, outcome }, 0);
  }
  waiter.start().catch((err: Error) => logger.warn({ err: err.message }, 'outcome waiter: subscribe failed'));
  // Set when the server shuts down: answers from then on close their connection.
  let closing = false;
  const hold: HoldDeps = {
    waiter,
    get: (id) => store.requests.get(id),
    ...(options.streamKeepAliveMs !== undefined ? { keepAliveMs: options.streamKeepAliveMs } : {}),
    onOutcome: (outcome) => m.waitOutcomes.inc({ outcome }),
    closing: () => closing,
  };
  const requests = requestsHandlers(runtime, hold);
  // The Batch API facade (SPEC §12): files, batches, and the driver that enqueues, expires and cancels their lines.
  const facadeDriver = new FacadeDriver(
    runtime,
    options.facadeSweepMs === undefined ? {} : { sweepMs: options.facadeSweepMs },
  );
  facadeDriver.start();
  const files = filesHandlers(runtime, models);
  // One rate limiter and budget gate for single requests and Batch API batches alike (SPEC §3, §15).
  const rateLimiter = new RateLimiter(runtime.redis, runtime.keys);
  const budgets = new BudgetGate(runtime.store, loadPriceTable(config.priceTableFile), runtime.metrics.m);
  const batches = batchesHandlers(runtime, callbacks, facadeDriver, { rateLimiter, budgets, capacity });
  const webhooks = webhookHandlers(runtime);
  const document = openApiDocument();
  const documentJson = JSON.stringify(document);
  const docsHtml = renderDocsPage(document);

  metrics.onCollect(async () => {
    m.waitingConnections.set(waiter.size);
    const counts = await store.requests.stateCounts();
    for (const state of OPEN_STATUSES) m.requestsByState.set({ state }, counts[state]);
  });

  const ready = async (): Promise<boolean> => {
    try {
      await runtime.redis.ping();
      return (await capacity.totalOpen()) < config.limits.globalMaxQueued;
    } catch {
      return false;
    }
  };

  const app = express();
  app.disable('x-powered-by');
  // Request objects change with every status: an ETag would cost CPU on the hot path and only invite stale 304s.
  app.set('etag', false);
  app.set('query parser', 'simple');

  // Duration of every request, labelled by route pattern (bounded) and status class.
  app.use((_req, res, next) => {
    const start = process.hrtime.bigint();
    res.once('finish', () => {
      const route = (res.locals.route as string | undefined) ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      m.httpRequestDuration.observe({ route, status: `${Math.floor(res.statusCode / 100)}xx` }, seconds);
    });
    next();
  });

  const json = express.json({
    limit: config.http.maxBodyBytes,
    type: ['application/json', 'application/*+json'],
    // Keeps the bytes for the JSON bounds (duplicate keys at any depth are visible only in the text, issue 16.6).
    verify: (req, _res, buf) => {
      (req as typeof req & { rawBody?: Buffer }).rawBody = buf;
    },
  });
  const routes: Array<{ path: string; methods: string[] }> = [];
  const route = (method: 'get' | 'post' | 'delete', path: string, ...handlers: Handler[]) => {
    const tag: Handler = (_req, res, next) => {
      res.locals.route = path;
      next();
    };
    app[method](path, tag, ...handlers);
    const known = routes.find((r) => r.path === path);
    if (known) known.methods.push(method.toUpperCase());
    else routes.push({ path, methods: [method.toUpperCase()] });
  };

  const accept = chatCompletionsCore({
    runtime,
    callbacks,
    rateLimiter,
    capacity,
    models,
    providers,
    budgets,
  });
  // Logging and the rejection metric of every error answer, shared by express and the fast path.
  const reportError: ErrorReporter = (err, context) => {
    const e = toApiError(err);
    if (e.status >= 500) {
      const cause = err instanceof ApiError ? err.cause : err;
      const log = e.status === 503 && e.code !== 'capacity_exceeded' ? logger.warn : logger.error;
      log.call(
        logger,
        { route: context.route, tenant: context.tenant?.id, err: (cause as Error | undefined)?.message },
        e.message,
      );
    }
    if (context.intake) m.requestsRejected.inc({ reason: e.reason });
    return e;
  };

  const intake: Handler = (_req, res, next) => {
    res.locals.intake = true;
    next();
  };
  route('post', CHAT_ENDPOINT, intake, auth, json, chatCompletionsHandler(accept, hold));
  // The other batchable endpoints (SPEC §9): the same route core, each body checked against its own schema.
  for (const endpoint of ENDPOINTS) {
    if (endpoint !== CHAT_ENDPOINT)
      route('post', endpoint, intake, auth, json, chatCompletionsHandler(accept, hold, endpoint));
  }
  route('get', '/v1/requests/:id', auth, requests.get);
  route('post', '/v1/requests/:id/cancel', auth, requests.cancel);
  route('post', '/v1/requests/:id/redeliver', auth, requests.redeliver);
  route('post', '/v1/files', auth, files.upload);
  route('get', '/v1/files', auth, files.list);
  route('get', '/v1/files/:id', auth, files.retrieve);
  route('delete', '/v1/files/:id', auth, files.remove);
  route('get', '/v1/files/:id/content', auth, files.content);
  route('post', '/v1/batches', auth, json, batches.create);
  route('get', '/v1/batches', auth, batches.list);
  route('get', '/v1/batches/:id', auth, batches.retrieve);
  route('post', '/v1/batches/:id/cancel', auth, batches.cancel);
  route('get', '/v1/requests/:id/deliveries', auth, webhooks.deliveries);
  route('post', '/v1/webhook-secret/rotate', auth, webhooks.rotateSecret);
  route('get', '/v1/endpoints', auth, webhooks.endpoints);
  route('post', '/v1/endpoints/enable', auth, json, webhooks.enableEndpoint);
  route('post', '/v1/deliveries/replay', auth, json, webhooks.replay);
  route('get', '/v1/deliveries/replay/:id', auth, webhooks.replayStatus);
  // Providers' own batch webhooks (SPEC §13): signed by the provider, no tenant key; the exact bytes are verified.
  const providerEventBody = express.raw({ type: () => true, limit: 1024 * 1024 });
  route('post', '/v1/provider-events/:provider', providerEventBody, providerEventsHandler(runtime));
  route('get', '/v1/usage', auth, usageHandler(runtime));
  route('get', '/v1/models', auth, (_req, res) => {
    const tenant = tenantOf(res);
    if (providers) {
      const data = providers
        .models(tenant)
        .filter((x) => modelAllowed(tenant, x.id))
        .map((x) => ({ id: x.id, object: 'model', created: 0, owned_by: x.owner }));
      res.json({ object: 'list', data });
      return;
    }
    const owner = config.upstream.profile.name;
    res.json({
      object: 'list',
      data: listedModels(tenant, owner, models.listed()).map((id) => ({
        id,
        object: 'model',
        created: 0,
        owned_by: owner,
      })),
    });
  });
  route('get', '/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  route('get', '/readyz', async (_req, res) => {
    const ok = await ready();
    const body: Record<string, unknown> = { status: ok ? 'ready' : 'not_ready' };
    // Each provider's circuit: an open one does not make the door unready (requests queue; flushes fail over).
    if (providers) body.providers = providerStates(providers);
    res.status(ok ? 200 : 503).json(body);
  });
  const serveMetrics = metricsHandler(metrics, config.metrics.token);
  route('get', '/metrics', (req, res) => serveMetrics(req, res));
  route('get', '/openapi.json', (_req, res) => {
    res.type('application/json').send(documentJson);
  });
  route('get', '/docs', (_req, res) => {
    res
      .type('text/html')
      .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
      .send(docsHtml);
  });

  // The operator page (issue 7): its own auth (ADMIN_KEY), HTML and error handling; off (404) without ADMIN_KEY.
  app.use('/admin', createAdminRouter(runtime, { basePath: '/admin' }));

  // A known path with another method: 405 with Allow (HEAD is served for GET routes by express itself).
  for (const r of routes) {
    app.all(r.path, (req, res) => {
      res.locals.route = r.path;
      res.set('Allow', r.methods.join(', '));
      throw new ApiError({
        status: 405,
        type: 'invalid_request_error',
        code: 'method_not_allowed',
        message: `${req.method} is not allowed on ${r.path} (allowed: ${r.methods.join(', ')})`,
      });
    });
  }

  app.use((req) => {
    throw new ApiError({
      status: 404,
      type: 'not_found_error',
      code: 'unknown_url',
      message: `Unknown request URL: ${req.method} ${req.path}`,
    });
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = reportError(err, {
      route: res.locals.route as string | undefined,
      tenant: res.locals.tenant ? tenantOf(res) : undefined,
      intake: res.locals.intake === true,
    });
    if (res.headersSent) {
      res.end();
      return;
    }
    // A body refused as too large was not read: close the connection rather than let Node drain megabytes of it.
    if (e.status === 413 && !req.complete) res.set('Connection', 'close');
    res.status(e.status).set(e.headers).json(e.toJSON());
  });

  const fastPath = chatFastPath({ runtime, accept, reportError, hold, closing: () => closing });
  return {
    app,
    fastPath,
    markClosing: () => {
      closing = true;
    },
    ready,
    stop: async () => {
      models.stop();
      await facadeDriver.stop();
      providers?.stop();
      await waiter.close();
    },
  };
}

/** What /readyz shows of each provider (SPEC §11). */
function providerStates(catalog: ProviderCatalog) {
  return catalog.health().map((h) => ({
    id: h.provider,
    profile: catalog.registry.config(h.provider)?.profile.name,
    circuit: h.state,
    failures: h.failures,
    ...(h.state === 'open' ? { opened_by: h.openedBy, probe_at: new Date(h.until).toISOString() } : {}),
    ...(h.lastFailure ? { last_failure: h.lastFailure } : {}),
  }));
}

/** A new connection with the same settings (Redis or Cluster; their `duplicate` signatures do not unify). */
function duplicateConnection(client: Runtime['redis']): Redis | Cluster {
  return client instanceof Cluster ? client.duplicate() : client.duplicate();
}
