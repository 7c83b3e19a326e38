/**
 * A webhook receiver for express (or plain `node:http`): `webhookHandler` reads the raw body, verifies it
 * (`verifyWebhookEvents`), dedupes on `webhook-id` through a pluggable store, calls `onEvent` once per outcome (each of
 * an aggregated delivery's outcomes, deduped on its own `webhook-id`) and answers
 * what makes batchbridge do the right thing (SPEC §4): 2xx when handled (or handled before), 401 when the signature or
 * timestamp is wrong, 400 for a body that is no event, 409 while the same `webhook-id` is still being handled by another
 * attempt, 500 when `onEvent` throws — every non-2xx is retried by batchbridge with the same `webhook-id` and body.
 *
 * No import of express: the handler takes any request that is an async iterable of the body bytes with `headers`
 * (express's `Request`, Node's `IncomingMessage`) and any response with `statusCode`, `setHeader` and `end`.
 */
import type { WebhookEvent } from './types.js';
import {
  type HeadersLike,
  type VerifiedWebhookEvents,
  verifyWebhookEvents,
  WebhookVerificationError,
} from './webhooks.js';

/** What a dedupe store knows of a `webhook-id`. */
export type DedupeState = 'new' | 'processing' | 'done';

/**
 * Where handled `webhook-id`s are kept. `begin` claims an id (atomically: of two receivers given the same id at once,
 * one gets `new`), `done` records it as handled, `abort` gives the claim up so that the next attempt handles it.
 */
export interface DedupeStore {
  begin(id: string, leaseMs: number): Promise<DedupeState>;
  done(id: string, ttlMs: number): Promise<void>;
  abort(id: string): Promise<void>;
}

/** In-process store: fine for one receiver process; ids are forgotten after `ttlMs` or a restart. */
export function memoryDedupeStore(): DedupeStore {
  const entries = new Map<string, { state: 'processing' | 'done'; until: number }>();
  const sweep = () => {
    const now = Date.now();
    for (const [id, e] of entries) if (e.until <= now) entries.delete(id);
  };
  let calls = 0;
  return {
    async begin(id, leaseMs) {
      if (++calls % 1024 === 0) sweep();
      const e = entries.get(id);
      if (e && e.until > Date.now()) return e.state;
      entries.set(id, { state: 'processing', until: Date.now() + leaseMs });
      return 'new';
    },
    async done(id, ttlMs) {
      entries.set(id, { state: 'done', until: Date.now() + ttlMs });
    },
    async abort(id) {
      entries.delete(id);
    },
  };
}

/** The few Redis commands the Redis store needs, as ioredis names them (`new Redis()` fits as it is). */
export interface RedisLike {
  set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<unknown>;
  set(key: string, value: string, px: 'PX', ms: number): Promise<unknown>;
  get(key: string): Promise<string | null>;
  del(key: string): Promise<unknown>;
}

/** A store shared by every receiver process: one key per `webhook-id` under `prefix`, expiring after `ttlMs`. */
export function redisDedupeStore(redis: RedisLike, options: { prefix?: string } = {}): DedupeStore {
  const key = (id: string) => `${options.prefix ?? 'batchbridge:webhook:'}${id}`;
  return {
    async begin(id, leaseMs) {
      if ((await redis.set(key(id), 'processing', 'PX', leaseMs, 'NX')) === 'OK') return 'new';
      const state = await redis.get(key(id));
      // Expired between the two calls: claim again.
      if (state === null)
        return (await redis.set(key(id), 'processing', 'PX', leaseMs, 'NX')) === 'OK' ? 'new' : 'processing';
      return state === 'done' ? 'done' : 'processing';
    },
    async done(id, ttlMs) {
      await redis.set(key(id), 'done', 'PX', ttlMs);
    },
    async abort(id) {
      await redis.del(key(id));
    },
  };
}

export interface WebhookHandlerOptions {
  /** The tenant's `whsec_…` secret, or several during a rotation. */
  secret: string | readonly string[];
  /** Where handled `webhook-id`s are kept. @defaultValue memoryDedupeStore() */
  dedupe?: DedupeStore;
  /** Called once per outcome, after verification; a throw answers 500 and batchbridge retries. */
  onEvent: (event: WebhookEvent, delivery: { id: string; timestamp: number }) => unknown;
  /** How long a handled id is remembered; outcomes can be redelivered while batchbridge keeps them (7 d). @defaultValue 8 days */
  dedupeTtlMs?: number;
  /** How long an attempt holds an id it is handling before another may take it over. @defaultValue 60 000 */
  leaseMs?: number;
  /** @defaultValue 300 */
  toleranceS?: number;
  /** Largest body read, in bytes (a request object is a few KB). @defaultValue 5 MiB */
  maxBodyBytes?: number;
}

/** A request as the handler reads it. */
export interface IncomingLike extends AsyncIterable<Uint8Array | string> {
  headers: HeadersLike;
  /** Set when a body parser ran before: `express.raw()` leaves the bytes (fine); `express.json()` an object (refused). */
  body?: unknown;
}

export interface OutgoingLike {
  statusCode: number;
  setHeader(name: string, value: string): unknown;
  end(body?: string): unknown;
}

const DAY_MS = 86_400_000;

/** The express (or `node:http`) handler of a webhook endpoint; see the module comment for its answers. */
export function webhookHandler(
  options: WebhookHandlerOptions,
): (req: IncomingLike, res: OutgoingLike) => Promise<void> {
  const dedupe = options.dedupe ?? memoryDedupeStore();
  const ttlMs = options.dedupeTtlMs ?? 8 * DAY_MS;
  const leaseMs = options.leaseMs ?? 60_000;
  const maxBytes = options.maxBodyBytes ?? 5 * 1024 * 1024;
  return async (req, res) => {
    const reply = (status: number, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json');
      for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      res.end(JSON.stringify(body));
    };
    let raw: Uint8Array | string;
    try {
      raw = await rawBodyOf(req, maxBytes);
    } catch (err) {
      return reply(err instanceof BodyError ? err.status : 400, { error: (err as Error).message });
    }
    let verified: VerifiedWebhookEvents;
    try {
      verified = await verifyWebhookEvents(raw, req.headers, options.secret, {
        ...(options.toleranceS !== undefined ? { toleranceS: options.toleranceS } : {}),
      });
    } catch (err) {
      if (err instanceof WebhookVerificationError) {
        return reply(err.code === 'invalid_body' ? 400 : 401, { error: err.message, code: err.code });
      }
      throw err;
    }
    // One outcome per entry (several in an aggregated delivery), each deduped on its own webhook-id: a retry of an
    // aggregated delivery handles only the outcomes an earlier attempt did not.
    let duplicates = 0;
    for (const { id, event } of verified.events) {
      const state = await dedupe.begin(id, leaseMs);
      if (state === 'done') {
        duplicates += 1;
        continue;
      }
      if (state === 'processing') {
        return reply(409, { error: `webhook ${id} is being handled by another attempt` }, { 'retry-after': '5' });
      }
      try {
        await options.onEvent(event, { id, timestamp: verified.timestamp });
      } catch (err) {
        await dedupe.abort(id).catch(() => undefined);
        return reply(500, { error: `handler failed: ${(err as Error).message}` });
      }
      await dedupe.done(id, ttlMs);
    }
    if (!verified.aggregated && duplicates === 1) return reply(200, { received: true, duplicate: true });
    reply(200, { received: true, ...(verified.aggregated ? { events: verified.events.length, duplicates } : {}) });
  };
}

class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function rawBodyOf(req: IncomingLike, maxBytes: number): Promise<Uint8Array | string> {
  const parsed = req.body;
  if (typeof parsed === 'string' || parsed instanceof Uint8Array) return parsed;
  if (parsed !== undefined && parsed !== null && !(typeof parsed === 'object' && Object.keys(parsed).length === 0)) {
    throw new BodyError(
      500,
      'the body was parsed before the webhook handler: mount it without express.json() (or with express.raw()), a signature covers the raw bytes',
    );
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const encoder = new TextEncoder();
  for await (const chunk of req) {
    const bytes = typeof chunk === 'string' ? encoder.encode(chunk) : chunk;
    size += bytes.length;
    if (size > maxBytes) throw new BodyError(413, `webhook body over ${maxBytes} bytes`);
    chunks.push(bytes);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
