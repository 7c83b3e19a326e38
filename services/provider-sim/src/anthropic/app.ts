/**
 * The express application of the Anthropic mode: `x-api-key` and `anthropic-version` checks, Message Batches
 * (`/v1/messages/batches`: create, list, retrieve, cancel, results as JSONL), realtime `POST /v1/messages`,
 * `GET /v1/models`, the shared `/_sim` admin API, and errors in Anthropic's shape
 * (`{"type":"error","error":{"type","message"},"request_id"}`, header `request-id`).
 *
 * The simulator's fault gate runs in front of every operation under the name of its OpenAI counterpart, so the same
 * fault settings apply: `batches.create|retrieve|list|cancel`, `files.content` (results), `chat.completions`
 * (messages), `models.list`.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '@batchbridge/logger';
import express, { type NextFunction, type Request, type Response, Router } from 'express';
import { type AdminControls, adminRouter } from '../admin-router.js';
import { SimHttpError } from '../errors.js';
import type { FaultGate } from '../fault-gate.js';
import type { SimFaults } from '../faults.js';
import type { Rng } from '../rng.js';
import type { AnthropicBatchStore, SimBatchRequest } from './batch-store.js';
import {
  anthropicErrorType,
  invalidParamsReason,
  type SimMessageParams,
  simErrorStatus,
  simulatedMessage,
} from './message.js';

/**
 * The `anthropic-version` values the simulator accepts: the two documented ones, and any later date (the TypeScript
 * SDK 1.x sends its own, e.g. `2026-10-21`).
 */
export const ANTHROPIC_VERSIONS: readonly string[] = ['2023-06-01', '2023-01-01'];
const DATED_VERSION = /^\d{4}-\d{2}-\d{2}$/;
/** Most requests in one Message Batch. */
export const MAX_BATCH_REQUESTS = 100_000;
/** Largest create body (256 MB). */
export const MAX_BATCH_BYTES = 256 * 1024 * 1024;
const CUSTOM_ID = /^[a-zA-Z0-9_-]{1,64}$/;

/** An error rendered in Anthropic's shape. */
export class AnthropicSimError extends Error {
  readonly status: number;
  readonly type: string;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.type = anthropicErrorType(status);
    this.headers = headers;
  }
}

export interface AnthropicAppParts {
  store: AnthropicBatchStore;
  gate: FaultGate;
  models: () => readonly string[];
  apiKeys: ReadonlySet<string> | null;
  faults: () => SimFaults;
  rng: () => Rng;
  countMessage: () => void;
  admin: AdminControls;
  logger: Logger;
  maxRequests: number;
  maxBytes: number;
}

function requestId(): string {
  return `req_sim${randomBytes(12).toString('hex')}`;
}

function checkHeaders(apiKeys: ReadonlySet<string> | null) {
  return (req: Request, _res: Response, next: NextFunction) => {
    // Anthropic's curl examples send `x-api-key`; the TypeScript SDK 1.x sends `Authorization: Bearer <key>`.
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    const key = req.headers['x-api-key'] ?? bearer;
    if (typeof key !== 'string' || key === '') {
      throw new AnthropicSimError(401, 'x-api-key header is required');
    }
    if (apiKeys && !apiKeys.has(key)) throw new AnthropicSimError(401, 'invalid x-api-key');
    const version = req.headers['anthropic-version'];
    if (typeof version !== 'string' || version === '') {
      throw new AnthropicSimError(400, 'anthropic-version: header is required');
    }
    if (!ANTHROPIC_VERSIONS.includes(version) && !(DATED_VERSION.test(version) && version > '2023-06-01')) {
      throw new AnthropicSimError(400, `anthropic-version: invalid version ${version}`);
    }
    next();
  };
}

function originOf(req: Request): string {
  return `${req.protocol}://${req.headers.host ?? 'localhost'}`;
}

function batchesRouter(parts: AnthropicAppParts): Router {
  const { store, gate } = parts;
  const router = Router();
  const json = express.json({ limit: parts.maxBytes });

  router.post('/messages/batches', gate.for('batches.create'), json, (req, res) => {
    const body = req.body as { requests?: unknown } | undefined;
    const requests = body?.requests;
    if (!Array.isArray(requests) || requests.length === 0) {
      throw new AnthropicSimError(400, 'requests: at least one request is required');
    }
    if (requests.length > parts.maxRequests) {
      throw new AnthropicSimError(400, `requests: at most ${parts.maxRequests} requests are allowed`);
    }
    const seen = new Set<string>();
    for (const [i, r] of requests.entries()) {
      const customId = (r as { custom_id?: unknown } | null)?.custom_id;
      if (typeof customId !== 'string' || !CUSTOM_ID.test(customId)) {
        throw new AnthropicSimError(
          400,
          `requests.${i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`,
        );
      }
      if (seen.has(customId)) {
        throw new AnthropicSimError(400, `requests.${i}.custom_id: Duplicate custom_id ${customId}`);
      }
      seen.add(customId);
      if ((r as { params?: unknown }).params === undefined) {
        throw new AnthropicSimError(400, `requests.${i}.params: Field required`);
      }
    }
    const batch = store.create(requests as SimBatchRequest[]);
    res.json(store.render(batch, originOf(req)));
  });

  router.get('/messages/batches', gate.for('batches.list'), (req, res) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = q.limit === undefined ? 20 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new AnthropicSimError(400, 'limit: Input should be between 1 and 1000');
    }
    const { page, hasMore } = store.list({ limit, afterId: q.after_id, beforeId: q.before_id });
    const origin = originOf(req);
    res.json({
      data: page.map((b) => store.render(b, origin)),
      has_more: hasMore,
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
    });
  });

  const find = (req: Request) => {
    const id = String(req.params.id);
    const batch = store.get(id);
    if (!batch) throw new AnthropicSimError(404, `Message Batch ${id} not found.`);
    return batch;
  };

  router.get('/messages/batches/:id', gate.for('batches.retrieve'), (req, res) => {
    res.json(store.render(find(req), originOf(req)));
  });

  router.post('/messages/batches/:id/cancel', gate.for('batches.cancel'), (req, res) => {
    const batch = find(req);
    store.cancel(batch);
    res.json(store.render(batch, originOf(req)));
  });

  router.get('/messages/batches/:id/results', gate.for('files.content'), (req, res) => {
    const batch = find(req);
    if (batch.status !== 'ended' || !batch.results) {
      throw new AnthropicSimError(400, `Message Batch ${batch.id} has not yet ended; its results are not available.`);
    }
    const lines = batch.results;
    const faults = parts.faults();
    const cutAfter =
      faults.truncateDownloadAfterBytes !== null &&
      (faults.truncateDownloadFraction >= 1 || parts.rng()() < faults.truncateDownloadFraction)
        ? faults.truncateDownloadAfterBytes
        : null;
    res.status(200).set('content-type', 'application/binary');
    res.flushHeaders();
    let i = 0;
    let sent = 0;
    const pump = () => {
      while (i < lines.length) {
        const chunk = `${lines[i++]}\n`;
        const bytes = Buffer.byteLength(chunk);
        if (cutAfter !== null && sent + bytes > cutAfter) {
          // Let what was written reach the socket, then reset the connection mid-download.
          res.write(chunk.slice(0, Math.max(0, cutAfter - sent)), () => res.destroy());
          return;
        }
        sent += bytes;
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    pump();
  });

  return router;
}

function messagesRouter(parts: AnthropicAppParts): Router {
  const router = Router();
  router.post('/messages', parts.gate.for('chat.completions'), express.json({ limit: '32mb' }), (req, res) => {
    const params = req.body as unknown;
    const invalid = invalidParamsReason(params, parts.models());
    if (invalid !== null) {
      const status = invalid.startsWith('model: ') && !invalid.includes('Field') ? 404 : 400;
      throw new AnthropicSimError(status, status === 404 ? `model: ${(params as { model: string }).model}` : invalid);
    }
    const marked = simErrorStatus(params as SimMessageParams);
    if (marked !== null) {
      throw new AnthropicSimError(marked, `Simulated error ${marked} requested by [sim:error=${marked}].`);
    }
    parts.countMessage();
    res.json(simulatedMessage(params as SimMessageParams));
  });

  router.get('/models', parts.gate.for('models.list'), (_req, res) => {
    const models = parts.models();
    res.json({
      data: models.map((id) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: '2025-01-01T00:00:00Z',
      })),
      has_more: false,
      first_id: models[0] ?? null,
      last_id: models.at(-1) ?? null,
    });
  });
  return router;
}

function errorHandler(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    let status = 500;
    let message = 'Internal server error';
    let headers: Record<string, string> = {};
    if (err instanceof AnthropicSimError) {
      status = err.status;
      message = err.message;
      headers = err.headers;
    } else if (err instanceof SimHttpError) {
      // from the shared fault gate (429 with Retry-After, injected 5xx)
      status = err.status;
      message = err.body.message;
      headers = err.headers;
    } else {
      const type = (err as { type?: unknown }).type;
      if (type === 'entity.parse.failed') {
        status = 400;
        message = 'There was an issue with the formatting of your request: invalid JSON body';
      } else if (type === 'entity.too.large') {
        status = 413;
        message = 'Request exceeds the maximum allowed number of bytes.';
      } else logger.error({ err, method: req.method, path: req.path }, 'unhandled error');
    }
    const id = requestId();
    res
      .status(status)
      .set({ ...headers, 'request-id': id })
      .json({ type: 'error', error: { type: anthropicErrorType(status), message }, request_id: id });
  };
}

export function createAnthropicApp(parts: AnthropicAppParts): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  const v1 = express.Router();
  v1.use(checkHeaders(parts.apiKeys));
  v1.use(batchesRouter(parts));
  v1.use(messagesRouter(parts));
  app.use('/v1', v1);
  app.use('/_sim', express.json({ limit: '1mb' }), adminRouter(parts.admin));
  app.use((req, _res, next) => next(new AnthropicSimError(404, `Not found: ${req.method} ${req.path}`)));
  app.use(errorHandler(parts.logger));
  return app;
}
