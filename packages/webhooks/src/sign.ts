// Owns Standard Webhooks signing (SPEC §4): the three headers of one delivery attempt, signed with the tenant's
// `whsec_` secret(s): HMAC-SHA256 by node:crypto (native; the `standardwebhooks` reference library's pure-JS SHA-256
// was a tenth of a busy dispatcher's CPU), byte for byte what the reference library signs (sign.test.ts verifies with
// it), so receivers can verify with any implementation. The reference library still verifies (verifyWebhook).
import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

const SECRET_PREFIX = 'whsec_';

/** The Standard Webhooks headers of one delivery attempt. */
// A type alias, not an interface, so that it is assignable to `Record<string, string>` header bags.
export type WebhookHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** What {@link signWebhook} signs. */
export interface SignWebhookInput {
  /** The tenant's `whsec_…` secret, or several during a rotation (each one adds a `v1,…` signature). */
  secret: string | readonly string[];
  /** The outcome's `webhook-id`, identical on every attempt. */
  id: string;
  /** The time of this attempt; sent as unix seconds. */
  timestamp: Date;
  /** The exact bytes that will be sent as the request body (a string is signed as its UTF-8). */
  body: string | Uint8Array;
}

/** Signs one attempt: HMAC-SHA256 over `id.timestamp.body` with every secret, space-separated in `webhook-signature`. */
export function signWebhook(input: SignWebhookInput): WebhookHeaders {
  const secrets = typeof input.secret === 'string' ? [input.secret] : input.secret;
  if (secrets.length === 0) throw new Error('signWebhook: at least one secret is required');
  if (input.id === '') throw new Error('signWebhook: id must not be empty');
  if (Number.isNaN(input.timestamp.getTime())) throw new Error('signWebhook: timestamp is not a valid date');
  const timestamp = String(Math.floor(input.timestamp.getTime() / 1000));
  // Signed content `<id>.<unix seconds>.<body>`, once per secret (a rotation signs with each). Body bytes are hashed
  // as they are (the dispatcher encodes a body once, for the signature and the socket alike).
  const { body } = input;
  const prefix = `${input.id}.${timestamp}.`;
  const sign = (secret: string, index: number) => {
    const hmac = createHmac('sha256', keyFor(secret, index));
    if (typeof body === 'string') hmac.update(prefix + body, 'utf8');
    else hmac.update(prefix, 'utf8').update(body);
    return `v1,${hmac.digest('base64')}`;
  };
  return {
    'webhook-id': input.id,
    'webhook-timestamp': timestamp,
    'webhook-signature':
      secrets.length === 1 ? sign(secrets[0] as string, 0) : [...new Set(secrets.map(sign))].join(' '),
  };
}

/** A new secret: `whsec_` + base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** HMAC keys by secret, so that a busy dispatcher does not decode the same tenant secret on every attempt. */
const signers = new Map<string, Buffer>();
/** Secrets remembered at most (one or two per tenant); the map is cleared when full. */
const MAX_SIGNERS = 10_000;

// Error messages name the secret's position, never its value.
function keyFor(secret: string, index: number): Buffer {
  const known = signers.get(secret);
  if (known) return known;
  if (!secret.startsWith(SECRET_PREFIX)) {
    throw new Error(`signWebhook: secret #${index + 1} must start with "${SECRET_PREFIX}"`);
  }
  const key = secret.slice(SECRET_PREFIX.length);
  if (key === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(key)) {
    throw new Error(`signWebhook: secret #${index + 1} must be "${SECRET_PREFIX}" followed by base64`);
  }
  const signer = Buffer.from(key, 'base64');
  if (signers.size >= MAX_SIGNERS) signers.clear();
  signers.set(secret, signer);
  return signer;
}

/** Why {@link verifyWebhook} refused a request: headers missing, signature wrong, or timestamp outside the tolerance. */
export type WebhookRefusal = 'missing_headers' | 'bad_signature' | 'stale' | 'bad_secret';

/**
 * Verifies a Standard Webhooks request that a provider sent us (SPEC §13) with the reference library: one of the
 * `v1,` signatures must be the HMAC of `id.timestamp.body` with `secret`, and the timestamp within 5 minutes of now
 * (the library's tolerance), so a replayed old event is refused. `body` must be the exact bytes received.
 */
export function verifyWebhook(
  secret: string,
  body: Buffer | string,
  headers: Record<string, string | string[] | undefined>,
): { ok: true } | { ok: false; reason: WebhookRefusal } {
  const flat: Record<string, string> = {};
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const v = headers[name];
    const value = Array.isArray(v) ? v.join(' ') : v;
    if (!value) return { ok: false, reason: 'missing_headers' };
    flat[name] = value;
  }
  let verifier: Webhook;
  try {
    verifier = verifierFor(secret);
  } catch {
    return { ok: false, reason: 'bad_secret' };
  }
  try {
    verifier.verify(body, flat, { jsonParse: false });
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: /timestamp/i.test((err as Error).message) ? 'stale' : 'bad_signature' };
  }
}

const verifiers = new Map<string, Webhook>();
function verifierFor(secret: string): Webhook {
  const known = verifiers.get(secret);
  if (known) return known;
  const v = new Webhook(secret);
  if (verifiers.size >= 1_000) verifiers.clear();
  verifiers.set(secret, v);
  return v;
}
