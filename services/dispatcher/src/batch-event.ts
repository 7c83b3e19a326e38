/**
 * The webhook of a Batch API batch that ended (SPEC §12): `batch.completed|failed|expired|cancelled` in OpenAI's event
 * shape (`{id, object: "event", type, created_at, data: {id}}`), Standard Webhooks signed with the tenant's secret, to
 * the batch's `metadata.callback_url` or the tenant's `default_callback_url`. The body is built from the batch's end
 * time, so every attempt sends the same bytes under the same `webhook-id`; retries follow the deliver queue's schedule.
 */
import { type Tenant, webhookSecrets } from '@batchbridge/config';
import type { BatchWebhookEvent, BatchWebhookEventType, FacadeBatchRecord, Store } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { MetricsCatalog } from '@batchbridge/metrics';
import { signWebhook, type WebhookSender } from '@batchbridge/webhooks';
import { DeliveryRetryError } from './errors.js';

export type BatchEventResult = 'delivered' | 'gone' | 'dead_letter' | 'not_found' | 'not_terminal' | 'no_callback_url';

const END_TIME: Record<string, keyof FacadeBatchRecord> = {
  completed: 'completed_at',
  failed: 'failed_at',
  expired: 'expired_at',
  cancelled: 'cancelled_at',
};

/** The event body of a batch that ended, or undefined while it is not terminal. */
export function batchEventBody(batch: FacadeBatchRecord): string | undefined {
  const field = END_TIME[batch.status];
  if (field === undefined) return undefined;
  const event: BatchWebhookEvent = {
    id: `evt_${batch.id}`,
    object: 'event',
    type: `batch.${batch.status}` as BatchWebhookEventType,
    created_at: Math.floor(Number(batch[field] ?? batch.created_at) / 1000),
    data: { id: batch.id },
  };
  return JSON.stringify(event);
}

export async function deliverBatchEvent(
  deps: {
    store: Store;
    tenants: { get(id: string): Tenant | undefined };
    sender: WebhookSender;
    metrics: MetricsCatalog;
    logger: Logger;
  },
  batchId: string,
  attempt: number,
  attempts: number,
): Promise<BatchEventResult> {
  const log = deps.logger.child({ batchId, attempt });
  const batch = await deps.store.facade.getBatch(batchId);
  if (batch === undefined) {
    log.warn('batch record is gone; no batch webhook');
    return 'not_found';
  }
  const body = batchEventBody(batch);
  if (body === undefined) return 'not_terminal';
  const tenant = deps.tenants.get(batch.tenant);
  const callbackUrl = batch.callback_url ?? tenant?.default_callback_url;
  if (tenant === undefined || callbackUrl === undefined) {
    log.debug('no callback URL for this batch or its tenant; its end is only visible through the API');
    return 'no_callback_url';
  }
  let url: URL;
  try {
    url = new URL(callbackUrl);
  } catch {
    return 'dead_letter';
  }
  const headers = signWebhook({
    secret: webhookSecrets(tenant),
    id: `msg_${batch.id}`,
    timestamp: new Date(),
    body,
  });
  const result = await deps.sender.send({ url, headers, body });
  const m = deps.metrics;
  if (result.outcome === 'delivered') {
    m.webhookDeliveries.inc({ outcome: 'delivered' });
    log.info({ status: result.status, type: `batch.${batch.status}` }, 'batch webhook delivered');
    return 'delivered';
  }
  if (result.outcome === 'gone') {
    m.webhookDeliveries.inc({ outcome: 'gone' });
    return 'gone';
  }
  if (result.outcome === 'refused' || attempt >= attempts) {
    m.webhookDeliveries.inc({ outcome: result.outcome === 'refused' ? 'refused' : 'dead_letter' });
    log.warn({ status: result.status, error: result.error }, 'batch webhook given up');
    return 'dead_letter';
  }
  m.webhookDeliveries.inc({ outcome: 'retry' });
  throw new DeliveryRetryError(result.error ?? 'delivery failed', result.retryAfterMs);
}
