/**
 * Batch webhooks as OpenAI sends them (SPEC §13): when a batch reaches `completed`, `failed`, `expired` or `cancelled`,
 * a POST of `{"id":"evt_…","object":"event","created_at":<unix s>,"type":"batch.<status>","data":{"id":"batch_…"}}` to
 * the configured URL, signed the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature:
 * v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, the key being the base64 after `whsec_`). Signed here with
 * node:crypto rather than a library, so that the receiver's verification is checked against the scheme itself.
 *
 * A delivery that does not get a 2xx is retried (0.2 s, 1 s, 5 s: OpenAI retries for longer), with the same
 * `webhook-id` and body and a fresh timestamp. Faults (faults.ts, each a count of upcoming events): `webhookLost`
 * (never sent), `webhookDuplicate` (sent twice, same id and body), `webhookBadSignature` (signed with another secret).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SimState } from './sim-state.js';
import type { BatchRecord } from './store.js';

/** Where the simulator pushes its batch events, and the `whsec_…` secret it signs them with. */
export interface SimWebhookTarget {
  url: string;
  secret: string;
}

export interface SimWebhookStats {
  /** Events made (one per batch that reached a terminal status while a target was set). */
  events: number;
  /** Events dropped by the `webhookLost` fault. */
  lost: number;
  /** Events sent a second time by the `webhookDuplicate` fault. */
  duplicated: number;
  /** Events signed with a wrong secret by the `webhookBadSignature` fault. */
  badSignature: number;
  /** POSTs answered 2xx. */
  delivered: number;
  /** POSTs that got no 2xx (each retry counts). */
  failedAttempts: number;
}

const RETRY_DELAYS_MS = [200, 1_000, 5_000];
const TERMINAL_TYPES: Record<string, string> = {
  completed: 'batch.completed',
  failed: 'batch.failed',
  expired: 'batch.expired',
  cancelled: 'batch.cancelled',
};

/** `v1,<signature>` of one attempt, as Standard Webhooks defines it. */
export function standardWebhookSignature(secret: string, id: string, timestampS: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64')}`;
}

export class WebhookPusher {
  readonly #state: SimState;
  #target: SimWebhookTarget | null;
  #closing = new AbortController();
  readonly #inFlight = new Set<Promise<void>>();
  #stats: SimWebhookStats = emptyStats();

  constructor(state: SimState, target: SimWebhookTarget | null) {
    this.#state = state;
    this.#target = target;
  }

  setTarget(target: SimWebhookTarget | null): void {
    this.#target = target;
  }

  stats(): SimWebhookStats {
    return { ...this.#stats };
  }

  /** Called once when a batch has reached a terminal status: pushes its event in the background. */
  batchEnded(batch: BatchRecord): void {
    const target = this.#target;
    const type = TERMINAL_TYPES[batch.status];
    if (!target || !type) return;
    this.#stats.events++;
    const faults = this.#state.faults;
    if (faults.webhookLost > 0) {
      this.#state.faults = { ...faults, webhookLost: faults.webhookLost - 1 };
      this.#stats.lost++;
      this.#state.logger.info({ batchId: batch.id, type }, 'sim webhook: event lost (fault)');
      return;
    }
    let secret = target.secret;
    if (faults.webhookBadSignature > 0) {
      this.#state.faults = { ...this.#state.faults, webhookBadSignature: faults.webhookBadSignature - 1 };
      this.#stats.badSignature++;
      secret = `whsec_${randomBytes(24).toString('base64')}`;
    }
    let times = 1;
    if (this.#state.faults.webhookDuplicate > 0) {
      this.#state.faults = { ...this.#state.faults, webhookDuplicate: this.#state.faults.webhookDuplicate - 1 };
      this.#stats.duplicated++;
      times = 2;
    }
    const at =
      (batch.status === 'completed'
        ? batch.completed_at
        : batch.status === 'failed'
          ? batch.failed_at
          : batch.status === 'expired'
            ? batch.expired_at
            : batch.cancelled_at) ?? Math.floor(Date.now() / 1000);
    const body = JSON.stringify({
      id: `evt_${randomBytes(16).toString('hex')}`,
      object: 'event',
      created_at: at,
      type,
      data: { id: batch.id },
    });
    const webhookId = `wh_${randomBytes(16).toString('hex')}`;
    const task = (async () => {
      for (let i = 0; i < times; i++) await this.#deliver(target.url, secret, webhookId, body);
    })().finally(() => this.#inFlight.delete(task));
    this.#inFlight.add(task);
  }

  async #deliver(url: string, secret: string, webhookId: string, body: string): Promise<void> {
    const signal = this.#closing.signal;
    for (let attempt = 0; attempt <= RETRY_DELAYS_MS.length; attempt++) {
      if (signal.aborted) return;
      const ts = Math.floor(Date.now() / 1000);
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'provider-sim (batch webhooks like OpenAI)',
            'webhook-id': webhookId,
            'webhook-timestamp': String(ts),
            'webhook-signature': standardWebhookSignature(secret, webhookId, ts, body),
          },
          body,
          redirect: 'manual',
          signal: AbortSignal.any([signal, AbortSignal.timeout(15_000)]),
        });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) {
          this.#stats.delivered++;
          return;
        }
        this.#stats.failedAttempts++;
        // A refused signature is not fixed by sending the same bytes again.
        if (res.status === 401 || res.status === 403 || res.status === 404) return;
      } catch {
        this.#stats.failedAttempts++;
      }
      const delay = RETRY_DELAYS_MS[attempt];
      if (delay === undefined) return;
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }

  /** Forgets the counts (the target stays). */
  reset(): void {
    this.#stats = emptyStats();
  }

  /** Stops every push in flight. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled([...this.#inFlight]);
    this.#closing = new AbortController();
  }
}

function emptyStats(): SimWebhookStats {
  return { events: 0, lost: 0, duplicated: 0, badSignature: 0, delivered: 0, failedAttempts: 0 };
}
