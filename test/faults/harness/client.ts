/**
 * The fault run's caller: submits each ledger entry with its own `Idempotency-Key` and `X-Custom-ID`, and retries on
 * connection errors, 429 and 5xx — against whichever ingest-api answers — until it gets its 202 (or the 200 replay of
 * a 202 lost in a crash). So every request the ledger counts as accepted really was, exactly once.
 */
import type { Behaviour } from './receiver.js';

export interface LedgerEntry {
  index: number;
  /** Idempotency-Key and X-Custom-ID. */
  key: string;
  tenant: string;
  behaviour: Behaviour;
  model: string;
  prompt: string;
  /** A poison request (issue 16.1): its prompt makes the simulator fail the whole batch file, naming its line or not. */
  poison?: 'line' | 'file';
  callbackUrl: string;
  /** The request id from the 202 (or the idempotent replay). */
  id?: string;
  /** When the first 2xx arrived (ms since epoch). */
  acceptedAt?: number;
  /** True when the id came from a 200 replay: the first 202 was lost to a fault. */
  recoveredByReplay?: boolean;
  /** Tries until accepted. */
  tries: number;
  /** Set when the client gave up (must stay 0). */
  abandoned?: string;
  /** Set when we asked to cancel it: the answer status. */
  cancelStatus?: number;
  /**
   * Submitted as a transparent-mode client (SPEC §8): `Prefer: wait`, the connection held until the outcome, retried
   * with the same Idempotency-Key when it drops. `answer` is the completion content it got in the response (unset
   * when the wait ended in a 202 or the answer was not a completion).
   */
  waits?: { answer?: string | undefined; status?: number };
}

export interface ClientOptions {
  /** Ingest base URLs, tried in turn. */
  ingestUrls: () => readonly string[];
  apiKeys: Record<string, string>;
  /** Give up on one request after this long (counted as abandoned: a failure of the run). */
  deadlineMs: number;
}

export interface ClientStats {
  retries: number;
  connectionErrors: number;
  byStatus: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long a waiting entry holds its connection. */
const WAIT_S = 30;

export class FaultClient {
  readonly stats: ClientStats = { retries: 0, connectionErrors: 0, byStatus: {} };
  #turn = 0;

  constructor(private readonly options: ClientOptions) {}

  #count(status: string): void {
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
  }

  #nextUrl(): string {
    const urls = this.options.ingestUrls();
    this.#turn += 1;
    return urls[this.#turn % urls.length] as string;
  }

  /** Submits until accepted; fills in `id`, `acceptedAt`, `recoveredByReplay`, `tries`. */
  async submit(entry: LedgerEntry): Promise<void> {
    const deadline = Date.now() + this.options.deadlineMs;
    let delay = 50;
    for (;;) {
      entry.tries += 1;
      let wait = delay;
      try {
        const res = await fetch(`${this.#nextUrl()}/v1/chat/completions`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${this.options.apiKeys[entry.tenant]}`,
            'content-type': 'application/json',
            'idempotency-key': entry.key,
            'x-custom-id': entry.key,
            'x-callback-url': entry.callbackUrl,
            ...(entry.waits ? { prefer: `wait=${WAIT_S}` } : {}),
          },
          body: JSON.stringify({ model: entry.model, messages: [{ role: 'user', content: entry.prompt }] }),
          signal: AbortSignal.timeout(entry.waits ? (WAIT_S + 10) * 1000 : 10_000),
        });
        const text = await res.text();
        this.#count(String(res.status));
        const requestId = res.headers.get('x-request-id');
        if (
          entry.waits &&
          requestId &&
          (res.status === 200 || (res.status >= 400 && res.status !== 429 && res.status !== 503))
        ) {
          // The outcome itself (a completion, or the provider's refusal of the line): the request was accepted.
          const body = JSON.parse(text) as { object?: string; choices?: Array<{ message?: { content?: string } }> };
          entry.id = requestId;
          entry.acceptedAt = Date.now();
          entry.waits.status = res.status;
          if (body.object === 'chat.completion') entry.waits.answer = body.choices?.[0]?.message?.content ?? '';
          return;
        }
        if (res.status === 202 || res.status === 200) {
          const body = JSON.parse(text) as { id?: unknown };
          if (typeof body.id !== 'string') throw new Error(`no id in ${res.status} answer`);
          if (entry.waits) entry.waits.status = res.status;
          entry.id = body.id;
          entry.acceptedAt = Date.now();
          entry.recoveredByReplay = res.status === 200;
          return;
        }
        if (res.status !== 429 && res.status < 500) {
          // A 4xx other than 429 is a bug in the run or the service; stop retrying and let the checker report it.
          entry.abandoned = `HTTP ${res.status}: ${text.slice(0, 200)}`;
          return;
        }
        const retryAfter = Number(res.headers.get('retry-after'));
        if (Number.isFinite(retryAfter) && retryAfter > 0) wait = Math.min(retryAfter * 1000, 2_000);
      } catch {
        // Connection refused or reset (an ingest-api was killed), or a timeout: the 202 may have been lost, so retry
        // with the same Idempotency-Key.
        this.stats.connectionErrors += 1;
        this.#count('connection-error');
      }
      if (Date.now() > deadline) {
        entry.abandoned = `no 2xx after ${entry.tries} tries`;
        return;
      }
      this.stats.retries += 1;
      await sleep(wait);
      delay = Math.min(delay * 2, 1_000);
    }
  }

  /** Asks to cancel an accepted request (200 while queued, 409 later: both fine); retried like a submit. */
  async cancel(entry: LedgerEntry): Promise<void> {
    for (let i = 0; i < 50; i++) {
      try {
        const res = await fetch(`${this.#nextUrl()}/v1/requests/${entry.id}/cancel`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.options.apiKeys[entry.tenant]}` },
          signal: AbortSignal.timeout(10_000),
        });
        await res.text();
        if (res.status < 500 && res.status !== 429) {
          entry.cancelStatus = res.status;
          return;
        }
      } catch {
        // retried below
      }
      await sleep(200);
    }
  }

  /** The request object as its tenant sees it (retried through outages); `undefined` on 404. */
  async get(entry: LedgerEntry): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
    let last = 0;
    for (let i = 0; i < 50; i++) {
      try {
        const res = await fetch(`${this.#nextUrl()}/v1/requests/${entry.id}`, {
          headers: { authorization: `Bearer ${this.options.apiKeys[entry.tenant]}` },
          signal: AbortSignal.timeout(10_000),
        });
        const text = await res.text();
        last = res.status;
        if (res.status === 200) return { status: 200, body: JSON.parse(text) as Record<string, unknown> };
        if (res.status === 404) return { status: 404, body: undefined };
      } catch {
        // retried below
      }
      await sleep(200);
    }
    return { status: last, body: undefined };
  }
}
