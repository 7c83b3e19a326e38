/**
 * Verifying batchbridge's webhooks (Standard Webhooks, SPEC §4) with Web Crypto only — Node 20+, Deno, Bun and edge
 * runtimes alike. The signed content is `<webhook-id>.<webhook-timestamp>.<raw body>`; `webhook-signature` holds one or
 * more space-separated `v1,<base64 HMAC-SHA256>`; the key is the base64 part of the tenant's `whsec_…` secret. Several
 * secrets may be given (a rotation's old and new one): a signature by any of them is accepted.
 */
import type { WebhookEvent, WebhookEventType } from './types.js';

/** Why a webhook was refused. */
export type WebhookVerificationCode =
  | 'missing_headers'
  | 'timestamp_out_of_range'
  | 'bad_signature'
  | 'invalid_secret'
  | 'invalid_body';

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
  constructor(
    readonly code: WebhookVerificationCode,
    message: string,
  ) {
    super(message);
  }
}

/** Headers as Node (`req.headers`), express, or the Fetch API (`Headers`) give them. */
export type HeadersLike = Headers | Record<string, string | readonly string[] | undefined>;

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, in seconds (replays of old deliveries are refused). @defaultValue 300 */
  toleranceS?: number;
  /** The clock, in ms (tests). @defaultValue Date.now */
  now?: () => number;
}

/** A verified webhook: the event, and the `webhook-id` to dedupe on (the same on every retry of one outcome). */
export interface VerifiedWebhook {
  id: string;
  /** Unix seconds of this attempt. */
  timestamp: number;
  event: WebhookEvent;
}

/**
 * A verified delivery as a list of outcomes (`verifyWebhookEvents`): one for a single webhook, up to the tenant's
 * `webhook_batch.max_events` for an aggregated one — each with its own `webhook-id` to dedupe on.
 */
export interface VerifiedWebhookEvents {
  /** The delivery's own `webhook-id` (an aggregated delivery's envelope id). */
  id: string;
  timestamp: number;
  aggregated: boolean;
  events: Array<{ id: string; event: WebhookEvent }>;
}

const EVENT_TYPES: ReadonlySet<WebhookEventType> = new Set([
  'request.completed',
  'request.failed',
  'request.cancelled',
]);
const encoder = new TextEncoder();
type HmacKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>;
const keys = new Map<string, Promise<HmacKey>>();

/**
 * Verifies a delivery and parses its event; throws a WebhookVerificationError when the headers are missing, the
 * timestamp is outside the tolerance, no signature matches any of `secrets`, or the body is not a batchbridge event.
 * `rawBody` must be the bytes as received (a re-serialised JSON object would not match the signature).
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secrets: string | readonly string[],
  options: VerifyOptions = {},
): Promise<VerifiedWebhook> {
  const { id, timestamp, parsed } = await verifySigned(rawBody, headers, secrets, options);
  if (isRecord(parsed) && parsed.type === OUTCOMES_TYPE) {
    throw new WebhookVerificationError(
      'invalid_body',
      'this delivery carries several outcomes (the tenant has aggregated deliveries, webhook_batch): read it with verifyWebhookEvents',
    );
  }
  return { id, timestamp, event: asEvent(parsed) };
}

/**
 * `verifyWebhook` for receivers of aggregated deliveries too (a tenant's `webhook_batch`): resolves with every outcome
 * the delivery carries — one for a single webhook — each with its own `webhook-id`.
 */
export async function verifyWebhookEvents(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secrets: string | readonly string[],
  options: VerifyOptions = {},
): Promise<VerifiedWebhookEvents> {
  const { id, timestamp, parsed } = await verifySigned(rawBody, headers, secrets, options);
  if (!(isRecord(parsed) && parsed.type === OUTCOMES_TYPE)) {
    return { id, timestamp, aggregated: false, events: [{ id, event: asEvent(parsed) }] };
  }
  if (!Array.isArray(parsed.data)) {
    throw new WebhookVerificationError('invalid_body', 'an aggregated delivery needs a data array');
  }
  const events = parsed.data.map((entry: unknown) => {
    if (!isRecord(entry) || typeof entry.webhook_id !== 'string') {
      throw new WebhookVerificationError('invalid_body', 'an aggregated delivery entry needs webhook_id and event');
    }
    return { id: entry.webhook_id, event: asEvent(entry.event) };
  });
  return { id, timestamp, aggregated: true, events };
}

const OUTCOMES_TYPE = 'request.outcomes';

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function asEvent(v: unknown): WebhookEvent {
  const event = v as WebhookEvent;
  if (!isRecord(v) || !EVENT_TYPES.has(event.type) || typeof event.data !== 'object' || event.data === null) {
    throw new WebhookVerificationError('invalid_body', 'the webhook body is not a batchbridge event');
  }
  return event;
}

async function verifySigned(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secrets: string | readonly string[],
  options: VerifyOptions,
): Promise<{ id: string; timestamp: number; parsed: unknown }> {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !ts || !signatures) {
    throw new WebhookVerificationError(
      'missing_headers',
      'webhook-id, webhook-timestamp and webhook-signature headers are required',
    );
  }
  const timestamp = Number(ts);
  const nowS = Math.floor((options.now ?? Date.now)() / 1000);
  const tolerance = options.toleranceS ?? 300;
  if (!/^\d+$/.test(ts) || Math.abs(nowS - timestamp) > tolerance) {
    throw new WebhookVerificationError(
      'timestamp_out_of_range',
      `webhook-timestamp ${ts} is more than ${tolerance} s from now`,
    );
  }
  const body = typeof rawBody === 'string' ? encoder.encode(rawBody) : rawBody;
  const content = concat(encoder.encode(`${id}.${ts}.`), body);
  const candidates = signatures
    .split(' ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1,'))
    .map((s) => base64Decode(s.slice(3)))
    .filter((s): s is Uint8Array<ArrayBuffer> => s !== undefined);
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new WebhookVerificationError('invalid_secret', 'no webhook secret given');
  let matched = false;
  for (const secret of list) {
    const key = await hmacKey(secret);
    for (const candidate of candidates) {
      // crypto.subtle.verify compares in constant time.
      if (await globalThis.crypto.subtle.verify('HMAC', key, candidate, content)) matched = true;
    }
    if (matched) break;
  }
  if (!matched) throw new WebhookVerificationError('bad_signature', 'no webhook-signature matches the secret(s)');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new WebhookVerificationError('invalid_body', 'the webhook body is not JSON');
  }
  return { id, timestamp, parsed };
}

function hmacKey(secret: string): Promise<HmacKey> {
  let key = keys.get(secret);
  if (!key) {
    const bytes = base64Decode(secret.startsWith('whsec_') ? secret.slice(6) : secret);
    if (!bytes || bytes.length === 0) {
      throw new WebhookVerificationError('invalid_secret', 'a webhook secret must be whsec_ followed by base64');
    }
    key = globalThis.crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    if (keys.size > 64) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | readonly string[] | undefined>;
  const value = record[name] ?? Object.entries(record).find(([k]) => k.toLowerCase() === name)?.[1];
  return typeof value === 'string' ? value : value?.[0];
}

function base64Decode(text: string): Uint8Array<ArrayBuffer> | undefined {
  try {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
