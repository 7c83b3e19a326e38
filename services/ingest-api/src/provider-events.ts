/**
 * `POST /v1/provider-events/{provider}` (SPEC §13): a provider's batch webhooks — OpenAI's `batch.completed|failed|
 * expired|cancelled` with `data.id` = the batch id, Standard Webhooks signed with the provider's webhook secret
 * (`webhook_secret` in PROVIDERS_FILE; UPSTREAM_WEBHOOK_SECRET for `default`). Such an event polls that batch at once,
 * through its one poll job (`pollNow`), so push and poll never route a batch twice.
 *
 * - unsigned, badly signed or stale (timestamp more than 5 minutes off): 401, nothing changes;
 * - an event id handled before (`G:pevent:<provider>:<id>`): 200, nothing changes;
 * - not a batch event, or a batch this deployment does not hold (or holds for another provider): 200, nothing changes;
 * - else the batch's poll job runs now; then the event id is remembered (3 days, longer than providers retry).
 *
 * Fault-first: the id is written only after the poll was triggered. A process that dies between the two has answered
 * nothing (or 5xx), so the provider sends the event again and the trigger — idempotent — runs again; one that dies
 * before the trigger leaves the poll job as it was, and the backstop poll (POLL_MAX_INTERVAL_MS_PUSH) finds the batch.
 */
import type { BatchRecord, PartitionId } from '@batchbridge/domain';
import { pollNow } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';
import { verifyWebhook } from '@batchbridge/webhooks';
import type { Request, Response } from 'express';
import { ApiError } from './errors.js';

/** How long a handled event id is remembered: OpenAI retries a failed delivery for up to 72 hours. */
export const PROVIDER_EVENT_TTL_MS = 3 * 86_400_000;
/** How long the answer waits for a running poll job to come back to delayed before it hands over to the background. */
const ANSWER_BUDGET_MS = 2_000;
/** How long that background follow-up keeps trying. */
const FOLLOW_UP_BUDGET_MS = 60_000;

const BATCH_EVENT = /^batch\.(completed|failed|expired|cancelled)$/;

export interface ProviderEventsOptions {
  /** Pause between looks at a running poll job (tests). @defaultValue 50 ms */
  stepMs?: number;
}

export function providerEventsHandler(runtime: Runtime, options: ProviderEventsOptions = {}) {
  const { store, logger, metrics } = runtime;
  const m = metrics.m;

  /** The live or routed record of a batch: partitions are looked at together (a batch id does not name its own). */
  const findBatch = async (batchId: string): Promise<{ p: PartitionId; batch: BatchRecord } | undefined> => {
    const found = await Promise.all(
      runtime.keys.allPartitions().map(async (p) => {
        const batch = await store.batches.get(p, batchId);
        return batch ? { p, batch } : undefined;
      }),
    );
    return found.find((x) => x !== undefined);
  };

  return async (req: Request, res: Response): Promise<void> => {
    const providerId = String(req.params.provider);
    const provider = runtime.providers.config(providerId);
    const label = provider ? providerId : 'unknown';
    m.providerEvents.inc({ provider: label, outcome: 'received' });
    if (!provider) {
      m.providerEvents.inc({ provider: label, outcome: 'refused' });
      throw new ApiError({
        status: 404,
        type: 'not_found_error',
        code: 'unknown_provider',
        param: 'provider',
        message: `No provider '${providerId.slice(0, 64)}' is configured`,
      });
    }
    const body: Buffer = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const refuse = (code: string, message: string): never => {
      m.providerEvents.inc({ provider: label, outcome: 'refused' });
      logger.warn({ provider: providerId, code }, 'provider event refused');
      throw new ApiError({ status: 401, type: 'authentication_error', code, message, reason: 'unauthorized' });
    };
    if (!provider.webhookSecret) {
      refuse('no_webhook_secret', `Provider '${providerId}' has no webhook secret configured; its events are refused`);
    }
    const verdict = verifyWebhook(provider.webhookSecret as string, body, req.headers);
    if (!verdict.ok) {
      if (verdict.reason === 'stale') refuse('stale_event', 'The webhook-timestamp is more than 5 minutes off');
      if (verdict.reason === 'missing_headers')
        refuse('missing_signature', 'webhook-id, webhook-timestamp and webhook-signature are required');
      refuse('invalid_signature', 'The webhook-signature does not match');
    }
    m.providerEvents.inc({ provider: label, outcome: 'verified' });

    let event: { id?: unknown; type?: unknown; data?: { id?: unknown } };
    try {
      event = JSON.parse(body.toString('utf8')) as typeof event;
    } catch {
      throw new ApiError({ status: 400, type: 'invalid_request_error', code: 'invalid_json', message: 'Not JSON' });
    }
    const done = (outcome: string, extra: Record<string, unknown> = {}) => {
      m.providerEvents.inc({ provider: label, outcome });
      res.status(200).json({ received: true, outcome, ...extra });
    };
    const batchId = typeof event?.data?.id === 'string' ? event.data.id : undefined;
    if (typeof event?.type !== 'string' || !BATCH_EVENT.test(event.type) || !batchId) return done('ignored');
    const eventId = typeof event.id === 'string' && event.id !== '' ? event.id : String(req.headers['webhook-id']);
    const dedupeKey = runtime.keys.providerEvent(providerId, eventId.slice(0, 200));
    if ((await runtime.redis.exists(dedupeKey)) === 1) return done('duplicate');
    const remember = () => runtime.redis.set(dedupeKey, '1', 'PX', PROVIDER_EVENT_TTL_MS, 'NX');

    const found = await findBatch(batchId);
    if (!found || found.batch.provider !== providerId) {
      await remember();
      return done('unknown_batch');
    }
    const { p, batch } = found;
    const log = logger.child({ provider: providerId, batchId, eventType: event.type, partition: p });
    if (batch.routed_at !== undefined) {
      await remember();
      return done('already_routed');
    }
    const stepMs = options.stepMs ?? 50;
    const result = await pollNow(runtime.queues, p, batchId, { budgetMs: ANSWER_BUDGET_MS, stepMs });
    if (result === 'running') {
      // A poll is running (or routing): once it moves itself back to delayed, promote it — in the background, so that
      // the provider gets its answer in time. Lost with this process, the backstop poll remains.
      void pollNow(runtime.queues, p, batchId, { budgetMs: FOLLOW_UP_BUDGET_MS, stepMs: stepMs * 4 })
        .then((r) => log.debug({ result: r }, 'provider event: follow-up poll trigger'))
        .catch((err: Error) => log.warn({ err: err.message }, 'provider event: follow-up poll trigger failed'));
    }
    await remember();
    log.info({ result }, 'provider event: batch polled at once');
    return done('polled', { poll: result });
  };
}
