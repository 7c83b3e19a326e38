/** Identifiers: request ids embed their partition so that any replica can find a request without a lookup. */
import { createHash, randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * Random bytes are drawn from a pool refilled 4 KB at a time: one `randomBytes` call per id (a synchronous
 * `randomFillSync` into a fresh buffer) was a visible share of intake CPU. The bytes are the same CSPRNG output.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomByteAt(): number {
  if (poolOffset >= pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  return pool[poolOffset++] as number;
}

function random36(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomByteAt() % 36];
  return out;
}

let lastMs = -1;
let lastTime36 = '';

/** The current millisecond in base 36 (Number#toString(36) is slow in V8; intake asks for it thousands of times a second). */
function time36(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime36 = now.toString(36).padStart(9, '0');
  }
  return lastTime36;
}

/** `breq_` + partition (2 base-36 chars) + time (9) + random (14): time-sortable within a partition. */
export function newRequestId(partition: number): string {
  return `breq_${partition.toString(36).padStart(2, '0')}${time36()}${random36(14)}`;
}

const REQUEST_ID = /^breq_([0-9a-z]{2})[0-9a-z]{23}$/;

export function isRequestId(id: string): boolean {
  return REQUEST_ID.test(id);
}

/** The partition a request id lives in, or undefined for a malformed id. */
export function partitionOfRequestId(id: string): number | undefined {
  const m = REQUEST_ID.exec(id);
  return m?.[1] ? Number.parseInt(m[1], 36) : undefined;
}

export function newFlushId(): string {
  return `fl_${time36()}${random36(12)}`;
}

/** The partition for a new request: stable for an Idempotency-Key (so a replay finds the first request), else random. */
export function choosePartition(partitions: number, tenant: string, idempotencyKey?: string): number {
  if (partitions <= 1) return 0;
  if (idempotencyKey) {
    const h = createHash('sha1').update(`${tenant}\n${idempotencyKey}`).digest();
    return h.readUInt32BE(0) % partitions;
  }
  return ((randomByteAt() << 8) | randomByteAt()) % partitions;
}

/** The Standard Webhooks message id of a request's outcome: the same on every attempt and every redelivery. */
export function webhookIdFor(requestId: string): string {
  return `msg_${requestId}`;
}
