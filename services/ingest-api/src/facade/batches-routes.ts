/**
 * `/v1/batches` of the Batch API facade (SPEC §12): create, retrieve, list (`limit`/`after`, newest first, `has_more`),
 * cancel — in OpenAI's shapes (objects.ts). Creating writes the batch record first (facade-create) and answers
 * `validating` at once; the driver (driver.ts) then enqueues its lines chunk by chunk, resumable from the record's
 * cursor by any ingest process. `completion_window` may be any duration up to FACADE_MAX_WINDOW; it is stored as the
 * batch's expiry (`expires_at`): the batch expires when it passes, whatever became of provider batches meanwhile.
 */
import type { Tenant } from '@batchbridge/config';
import { type FacadeFileRecord, facadePartition, isEndpoint, newFacadeBatchId } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { Request, Response } from 'express';
import { tenantOf } from '../auth.js';
import type { BudgetGate } from '../budget.js';
import type { CallbackPolicy } from '../callback-policy.js';
import type { CapacityView } from '../capacity.js';
import { ApiError, invalidParam, notFound, rateLimited } from '../errors.js';
import type { RateLimiter } from '../rate-limiter.js';
import type { FacadeDriver } from './driver.js';
import { intParam } from './files-routes.js';
import { batchObject } from './objects.js';

/** Seconds a client over its queue quota or the global capacity is asked to wait (as for single requests). */
const QUOTA_RETRY_AFTER_S = '5';

/** The intake gates single requests pass (SPEC §3, §15), applied to a batch's lines as a whole at create. */
export interface FacadeGates {
  rateLimiter: RateLimiter;
  budgets: BudgetGate;
  capacity: CapacityView;
}

const WINDOW = /^(\d{1,7})(s|m|h|d)$/;
const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A completion window such as `24h`, `90m`, `2d` in ms; undefined when malformed. */
export function parseWindow(raw: string): number | undefined {
  const m = WINDOW.exec(raw);
  if (!m) return undefined;
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export function batchesHandlers(runtime: Runtime, callbacks: CallbackPolicy, driver: FacadeDriver, gates: FacadeGates) {
  const { config, store, logger, metrics } = runtime;

  const create = async (req: Request, res: Response) => {
    const tenant = tenantOf(res);
    const body = req.body as Record<string, unknown> | undefined;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalidParam('body', 'request body must be a JSON object: input_file_id, endpoint, completion_window');
    }
    const fileId = body.input_file_id;
    if (typeof fileId !== 'string' || fileId === '') throw invalidParam('input_file_id', 'input_file_id is required');
    const endpoint = body.endpoint;
    if (
      typeof endpoint !== 'string' ||
      !isEndpoint(endpoint) ||
      !config.upstream.profile.endpoints.includes(endpoint)
    ) {
      throw invalidParam(
        'endpoint',
        `endpoint must be one of ${config.upstream.profile.endpoints.join(', ')} (got ${JSON.stringify(endpoint ?? null)})`,
      );
    }
    const window = body.completion_window;
    const windowMs = typeof window === 'string' ? parseWindow(window) : undefined;
    if (windowMs === undefined || windowMs <= 0 || windowMs > config.facade.maxWindowMs) {
      throw invalidParam(
        'completion_window',
        `completion_window must be a duration such as 24h, 90m or 2d, at most ${config.facade.maxWindowMs / 3_600_000}h (FACADE_MAX_WINDOW)`,
      );
    }
    const metadata = checkMetadata(body.metadata);
    const callbackUrl = metadata?.callback_url;
    if (callbackUrl !== undefined) {
      const verdict = await callbacks.validate(callbackUrl);
      if (!verdict.ok) {
        throw new ApiError({
          status: verdict.code === 'invalid_callback_url' ? 400 : 422,
          type: 'invalid_request_error',
          code: verdict.code,
          param: 'metadata.callback_url',
          message: verdict.message,
          reason: 'callback_url',
        });
      }
    }
    const file = await store.facade.getFile(fileId);
    if (!file || file.tenant !== tenant.id) throw notFound(`No such File object: ${fileId}`, 'input_file_id');
    // Validation as a provider does it at creation: every line's url must be the batch's endpoint.
    const wrong = Object.entries(file.urls)
      .filter(([url]) => url !== endpoint)
      .map(([url, line]) => ({
        code: 'invalid_url',
        line,
        message: `The url ${JSON.stringify(url)} of line ${line} does not match the batch's endpoint ${endpoint}.`,
        param: 'url',
      }));
    const errors = wrong.length > 0 ? { object: 'list', data: wrong } : undefined;
    const idempotencyKey = header(req, 'idempotency-key');
    const p = facadePartition(config.redis.partitions, tenant.id);
    if (store.facade.partitionOf(fileId) !== p) throw notFound(`No such File object: ${fileId}`, 'input_file_id');
    // The gates of a single request, for the file's lines as a whole (a replay of an Idempotency-Key passes: it
    // creates nothing). A file larger than max_queued could never be admitted: 400, not a 429 to retry.
    const replay =
      idempotencyKey !== undefined &&
      (await store.requests.idempotencyKeyHeld(p, tenant.id, `batch:${idempotencyKey}`));
    if (!replay && errors === undefined) await admit(tenant, file);
    const elsewhere = await gates.capacity.elsewhere(tenant.id, p);
    const id = newFacadeBatchId(p);
    const result = await store.facade.createBatch(
      p,
      {
        id,
        tenant: tenant.id,
        fileId,
        endpoint,
        window: window as string,
        windowMs,
        metadata,
        callbackUrl,
        idempotencyKey,
        errors,
      },
      {
        tenantMax: tenant.max_queued,
        tenantElsewhere: elsewhere.tenant,
        globalMax: config.limits.globalMaxQueued,
        globalElsewhere: elsewhere.global,
      },
    );
    if (result.kind === 'no_file') throw notFound(`No such File object: ${fileId}`, 'input_file_id');
    if (result.kind === 'quota_tenant') {
      metrics.m.requestsRejected.inc({ reason: 'quota' });
      throw new ApiError({
        status: 429,
        type: 'rate_limit_error',
        code: 'queue_quota_exceeded',
        param: 'input_file_id',
        message:
          `this batch's ${file.lines} lines would take this tenant to ${result.open + file.lines} requests in flight, ` +
          `over its max_queued of ${tenant.max_queued}; retry when some have finished`,
        reason: 'quota',
        headers: { 'Retry-After': QUOTA_RETRY_AFTER_S },
      });
    }
    if (result.kind === 'quota_global') {
      metrics.m.requestsRejected.inc({ reason: 'capacity' });
      throw new ApiError({
        status: 503,
        type: 'service_unavailable',
        code: 'capacity_exceeded',
        param: 'input_file_id',
        message: `batchbridge is at its global capacity (GLOBAL_MAX_QUEUED) for this batch's ${file.lines} lines; retry later`,
        reason: 'capacity',
        headers: { 'Retry-After': QUOTA_RETRY_AFTER_S },
      });
    }
    if (result.kind === 'exists') throw new Error('batch id collision');
    const batchId = result.kind === 'replayed' ? result.id : id;
    const batch = await store.facade.getBatch(batchId);
    if (!batch) throw notFound(`No such batch: ${batchId}`);
    if (result.kind === 'created') {
      // A batch that failed at once has its webhook job in the outbox: hand it over now (the sweep would later).
      if (result.outbox) {
        await runtime.relay.relay(p, [result.outbox]).catch((err: Error) => {
          logger.warn({ batchId, err: err.message }, 'batch webhook relay failed; left to the outbox sweep');
        });
      }
      runtime.metrics.m.facadeBatchesCreated.inc({ status: batch.status });
      logger.info({ batchId, tenant: tenant.id, fileId, lines: file.lines }, 'batch created');
      driver.kick(p, batchId);
    }
    res.status(200).json(batchObject(batch));
  };

  /** Rate limit (the create is one call), a file no quota could ever admit, budget: as for a single request. */
  const admit = async (tenant: Tenant, file: FacadeFileRecord) => {
    if (tenant.rate_limit_per_s !== undefined && !(await gates.rateLimiter.take(tenant.id, tenant.rate_limit_per_s))) {
      metrics.m.requestsRejected.inc({ reason: 'rate_limited' });
      throw rateLimited(tenant.rate_limit_per_s);
    }
    if (tenant.max_queued !== undefined && file.lines > tenant.max_queued) {
      metrics.m.requestsRejected.inc({ reason: 'quota' });
      throw new ApiError({
        status: 400,
        type: 'invalid_request_error',
        code: 'queue_quota_exceeded',
        param: 'input_file_id',
        message:
          `the file holds ${file.lines} lines, more than this tenant's max_queued of ${tenant.max_queued} ` +
          'requests in flight: split it into files of at most that many lines',
        reason: 'quota',
      });
    }
    try {
      await gates.budgets.checkBatch(tenant, {
        lines: file.lines,
        tokensByModel: file.models,
        providers: ['default', config.upstream.profile.name],
      });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'budget_exceeded')
        metrics.m.requestsRejected.inc({ reason: 'budget' });
      throw err;
    }
  };

  const retrieve = async (req: Request, res: Response) => {
    const id = String(req.params.id);
    const batch = await store.facade.getBatch(id);
    if (!batch || batch.tenant !== tenantOf(res).id) throw notFound(`No such batch: ${id}`, 'batch_id');
    res.json(batchObject(batch));
  };

  const list = async (req: Request, res: Response) => {
    const tenant = tenantOf(res);
    const limit = intParam(req.query.limit, 'limit', 1, 100, 20);
    const after = typeof req.query.after === 'string' && req.query.after !== '' ? req.query.after : undefined;
    const p = facadePartition(config.redis.partitions, tenant.id);
    const ids = await store.facade.listBatchIds(p, tenant.id, limit, after);
    const page = ids.slice(0, limit);
    const records = await Promise.all(page.map((id) => store.facade.getBatch(id)));
    await store.facade.pruneIndex(
      p,
      tenant.id,
      'batches',
      page.filter((_, i) => records[i] === undefined),
    );
    const data = records.filter((r) => r !== undefined).map(batchObject);
    res.json({
      object: 'list',
      data,
      first_id: data[0]?.id ?? null,
      last_id: data.at(-1)?.id ?? null,
      has_more: ids.length > limit,
    });
  };

  const cancel = async (req: Request, res: Response) => {
    const tenant = tenantOf(res);
    const id = String(req.params.id);
    const verdict = await store.facade.cancelBatch(id, tenant.id);
    if (verdict === 'not_found') throw notFound(`No such batch: ${id}`, 'batch_id');
    const batch = await store.facade.getBatch(id);
    if (!batch) throw notFound(`No such batch: ${id}`, 'batch_id');
    if (verdict === 'conflict') {
      throw new ApiError({
        status: 409,
        type: 'conflict_error',
        code: 'batch_not_cancellable',
        param: 'batch_id',
        message: `Cannot cancel a batch with status ${batch.status}.`,
      });
    }
    if (verdict === 'cancelling') {
      logger.info({ batchId: id, tenant: tenant.id }, 'batch cancelling');
      driver.kick(store.facade.partitionOf(id) as number, id);
    }
    res.json(batchObject(batch));
  };

  return { create, retrieve, list, cancel };
}

/** OpenAI's metadata: at most 16 string pairs, keys ≤ 64 and values ≤ 512 characters; null/absent → none. */
function checkMetadata(raw: unknown): Record<string, string> | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw invalidParam('metadata', 'metadata must be an object');
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > 16) throw invalidParam('metadata', 'metadata may hold at most 16 keys');
  for (const [k, v] of entries) {
    if (k.length > 64)
      throw invalidParam('metadata', `metadata key ${JSON.stringify(k.slice(0, 20))}… is over 64 characters`);
    if (typeof v !== 'string' || v.length > 512) {
      throw invalidParam(`metadata.${k}`, `metadata.${k} must be a string of at most 512 characters`);
    }
  }
  return raw as Record<string, string>;
}

function header(req: Request, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === '' ? undefined : s;
}
