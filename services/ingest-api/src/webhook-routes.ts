/**
 * The webhook routes of SPEC §16, each for the calling tenant only:
 *
 * - `POST /v1/webhook-secret/rotate`      a new signing secret; the previous ones keep signing for WEBHOOK_SECRET_OVERLAP
 * - `GET  /v1/requests/{id}/deliveries`   the outcome's delivery log (last WEBHOOK_LOG_ATTEMPTS attempts)
 * - `GET  /v1/endpoints`                  the tenant's failing or disabled callback hosts
 * - `POST /v1/endpoints/enable`           re-enables one (`{"url"}` or `{"host"}`)
 * - `POST /v1/deliveries/replay`          redelivers the outcomes of a time range (a background job, 202)
 * - `GET  /v1/deliveries/replay/{id}`     that job's progress
 */
import { randomBytes } from 'node:crypto';
import { webhookSecrets } from '@batchbridge/config';
import {
  deliveryMember,
  deliveryState,
  type EndpointState,
  type ReplayJob,
  type ReplayStatusFilter,
  type RequestRecord,
} from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import { generateWebhookSecret, hostKey } from '@batchbridge/webhooks';
import type { Request, Response } from 'express';
import { tenantOf } from './auth.js';
import { ApiError, invalidParam, notFound } from './errors.js';

/** One replay per tenant per this long: each one may send a great many webhooks. */
export const REPLAY_GAP_MS = 60_000;
/** Finished outcomes read per step of a replay (per partition). */
const REPLAY_PAGE = 500;
const STATUSES: readonly ReplayStatusFilter[] = ['dead', 'failed', 'all'];

export function webhookHandlers(runtime: Runtime) {
  const { store, config, logger } = runtime;

  const loadRecord = async (req: Request, res: Response): Promise<RequestRecord> => {
    const id = String(req.params.id);
    const record = store.requests.partitionOf(id) === undefined ? undefined : await store.requests.get(id);
    if (!record || record.tenant !== tenantOf(res).id) {
      throw notFound(`No request found with id '${id}' for this API key`, 'id');
    }
    return record;
  };

  return {
    rotateSecret: async (_req: Request, res: Response): Promise<void> => {
      const tenant = tenantOf(res);
      const secret = generateWebhookSecret();
      const overlap = config.webhook.secretOverlapMs;
      const rotated = await store.secrets.rotate(tenant.id, webhookSecrets(tenant), secret, overlap);
      logger.info(
        { tenant: tenant.id, previousValidUntil: new Date(rotated.previousValidUntil).toISOString() },
        'webhook secret rotated',
      );
      res.json({
        object: 'webhook_secret',
        secret,
        previous_valid_until: new Date(rotated.previousValidUntil).toISOString(),
      });
    },

    deliveries: async (req: Request, res: Response): Promise<void> => {
      const record = await loadRecord(req, res);
      const p = store.requests.partitionOf(record.id) ?? 0;
      const data = await store.requests.deliveryLog(p, record.id);
      res.json({
        object: 'list',
        data,
        request_id: record.id,
        delivery: {
          state: deliveryState(record),
          reason: record.dead ? (record.dead_reason ?? 'exhausted') : (record.stop_reason ?? null),
          attempts: record.delivery_attempts ?? data.length,
          delivered_at: record.delivered_at === undefined ? null : new Date(record.delivered_at).toISOString(),
        },
      });
    },

    endpoints: async (_req: Request, res: Response): Promise<void> => {
      const list = await store.endpoints.unhealthy(tenantOf(res).id);
      res.json({ object: 'list', data: list.map(endpointObject) });
    },

    enableEndpoint: async (req: Request, res: Response): Promise<void> => {
      const host = hostOfBody(req.body);
      const tenant = tenantOf(res).id;
      const was = await store.endpoints.enable(tenant, host);
      logger.info({ tenant, host, was }, 'endpoint re-enabled');
      res.json({ object: 'endpoint', host, state: 'enabled', was_unhealthy: was });
    },

    replay: async (req: Request, res: Response): Promise<void> => {
      const tenant = tenantOf(res).id;
      const { since, until, status } = parseReplayBody(req.body);
      const wait = await store.replays.takeGate(tenant, REPLAY_GAP_MS);
      if (wait > 0) {
        const left = Math.ceil(wait / 1000);
        throw new ApiError({
          status: 429,
          type: 'rate_limit_error',
          code: 'replay_rate_limited',
          message: `a replay was started less than ${REPLAY_GAP_MS / 1000} s ago; retry in ${left} s`,
          reason: 'rate_limited',
          headers: { 'Retry-After': String(left) },
        });
      }
      const id = `rpl_${randomBytes(12).toString('hex')}`;
      await store.replays.create({ id, tenant, since, until, status });
      logger.info({ tenant, replayId: id, since, until, status }, 'replay started');
      // In the background: the answer says where to read progress. A replay whose process dies shows `interrupted`.
      void runReplay(runtime, { id, tenant, since, until, status });
      const job = await store.replays.get(id);
      res
        .status(202)
        .location(`/v1/deliveries/replay/${id}`)
        .json(replayObject(job as ReplayJob));
    },

    replayStatus: async (req: Request, res: Response): Promise<void> => {
      const id = String(req.params.id);
      const job = await store.replays.get(id);
      if (!job || job.tenant !== tenantOf(res).id) throw notFound(`No replay found with id '${id}'`, 'id');
      res.json(replayObject(job));
    },
  };
}

/** Walks every partition's finished index over the range and queues a redeliver per matching outcome. */
export async function runReplay(
  runtime: Runtime,
  job: { id: string; tenant: string; since: number; until: number; status: ReplayStatusFilter },
): Promise<void> {
  const { store, logger, metrics } = runtime;
  let scanned = 0;
  let queued = 0;
  try {
    for (const p of runtime.keys.allPartitions()) {
      for (let offset = 0; ; offset += REPLAY_PAGE) {
        const ids = await store.requests.finishedBetween(p, job.since, job.until, REPLAY_PAGE, offset);
        if (ids.length === 0) break;
        const facts = await store.requests.deliveryFacts(p, ids);
        const jobs: string[] = [];
        ids.forEach((id, i) => {
          const f = facts[i];
          if (f === undefined || f.tenant !== job.tenant) return;
          const wanted =
            job.status === 'all' ||
            (job.status === 'dead' && f.dead) ||
            (job.status === 'failed' && !f.delivered && (f.dead || f.gone || f.attempts > 0));
          if (!wanted) return;
          // The same delivery as a single redeliver: the webhook-id is the request's, so receivers dedupe replays.
          jobs.push(deliveryMember(id, true));
        });
        if (jobs.length > 0) await store.deliveries.add(p, jobs);
        scanned += ids.length;
        queued += jobs.length;
        metrics.m.webhookReplays.inc(jobs.length);
        await store.replays.progress(job.id, scanned, queued);
        if (ids.length < REPLAY_PAGE) break;
      }
    }
    await store.replays.finish(job.id, scanned, queued);
    logger.info({ tenant: job.tenant, replayId: job.id, scanned, queued }, 'replay finished');
  } catch (err) {
    logger.error({ tenant: job.tenant, replayId: job.id, err: (err as Error).message }, 'replay failed');
    await store.replays.finish(job.id, scanned, queued, (err as Error).message).catch(() => undefined);
  }
}

function replayObject(job: ReplayJob) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  return {
    id: job.id,
    object: 'delivery.replay',
    since: iso(job.since),
    until: iso(job.until),
    status: job.status,
    state: job.state,
    scanned: job.scanned,
    queued: job.queued,
    created_at: iso(job.created_at),
    finished_at: iso(job.finished_at),
    error: job.error ?? null,
  };
}

function endpointObject(e: EndpointState) {
  const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
  const open = e.openUntil !== undefined && e.openUntil > Date.now();
  return {
    object: 'endpoint',
    host: e.host,
    state: e.disabledAt !== undefined ? 'disabled' : open ? 'open' : 'failing',
    consecutive_failures: e.fails,
    failing_since: iso(e.failingSince),
    open_until: open ? iso(e.openUntil) : null,
    disabled_at: iso(e.disabledAt),
    last_error: e.lastError ?? null,
  };
}

function hostOfBody(body: unknown): string {
  const b = (body ?? {}) as { url?: unknown; host?: unknown };
  if (typeof b.url === 'string') {
    try {
      return hostKey(new URL(b.url));
    } catch {
      throw invalidParam('url', 'url must be an absolute http(s) URL, e.g. "https://hooks.example.com/batchbridge"');
    }
  }
  if (typeof b.host === 'string' && /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(b.host)) return b.host;
  throw invalidParam('host', 'send {"url":"<callback URL>"} or {"host":"<host>:<port>"} naming the endpoint');
}

function parseReplayBody(body: unknown): { since: number; until: number; status: ReplayStatusFilter } {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidParam('body', 'expected a JSON object {"since","until","status"}');
  }
  const b = body as Record<string, unknown>;
  const time = (name: 'since' | 'until', fallback?: number): number => {
    const v = b[name];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) {
      throw invalidParam(name, `${name} must be an RFC 3339 time, e.g. "2026-12-01T00:00:00Z"`);
    }
    return Date.parse(v);
  };
  const since = time('since');
  const until = time('until', Date.now());
  if (until < since) throw invalidParam('until', 'until must not be before since');
  const status = b.status ?? 'all';
  if (typeof status !== 'string' || !STATUSES.includes(status as ReplayStatusFilter)) {
    throw invalidParam('status', `status must be one of ${STATUSES.join(', ')}`);
  }
  return { since, until, status: status as ReplayStatusFilter };
}
