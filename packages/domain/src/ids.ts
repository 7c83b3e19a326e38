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

let seqTime = '';
let seqRandom = '';

/**
 * 14 random base-36 characters — or, for another request id of this process in the same millisecond, the previous
 * ones plus one (as ULID's monotonic mode), so that a process's requests sort in the order they were created even
 * within a millisecond: pending sets order equal scores by id, and packing is meant to be first in, first out.
 */
function nextRandom36(time: string): string {
  if (time === seqTime) {
    const next = increment36(seqRandom);
    if (next !== undefined) {
      seqRandom = next;
      return next;
    }
  }
  seqTime = time;
  seqRandom = random36(14);
  return seqRandom;
}

/** A base-36 string plus one, same length; undefined when it is all `z`. */
function increment36(s: string): string | undefined {
  for (let i = s.length - 1; i >= 0; i--) {
    const digit = ALPHABET.indexOf(s[i] as string);
    if (digit < 35) return s.slice(0, i) + ALPHABET[digit + 1] + '0'.repeat(s.length - 1 - i);
  }
  return undefined;
}

/**
 * `breq_` + partition (2 base-36 chars) + time (9) + random (14): time-sortable within a partition, and in creation
 * order within one process (see nextRandom36).
 */
export function newRequestId(partition: number): string {
  const time = time36();
  return `breq_${partition.toString(36).padStart(2, '0')}${time}${nextRandom36(time)}`;
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

/**
 * A Batch API input file (SPEC §12): `file-` + partition (2) + time (9) + random (14). Its partition is the tenant's
 * facade partition (`facadePartition`), so all of a tenant's files and batches share one hash tag.
 */
export function newFacadeFileId(partition: number): string {
  return `file-${partition.toString(36).padStart(2, '0')}${time36()}${random36(14)}`;
}

/**
 * A Batch API batch: `batch_` + partition (2) + time (9) + random (10). Line i of the batch is the request
 * `breq_` + the same 21 characters + i in base 36 (4 characters): a well-formed request id of the same partition,
 * derived rather than stored, so the batch keeps no list of a million ids and re-running a step makes the same ids.
 */
export function newFacadeBatchId(partition: number): string {
  return `batch_${partition.toString(36).padStart(2, '0')}${time36()}${random36(10)}`;
}

const FACADE_FILE_ID = /^file-([0-9a-z]{2})[0-9a-z]{23}$/;
const FACADE_BATCH_ID = /^batch_([0-9a-z]{2})[0-9a-z]{19}$/;
/** The virtual output and error files of a batch. */
const FACADE_RESULT_FILE_ID = /^file-(batch_[0-9a-z]{21})-(output|errors)$/;

/** Most lines a batch id can name (4 base-36 characters). */
export const FACADE_LINE_ID_LIMIT = 36 ** 4 - 1;

export function partitionOfFacadeId(id: string): number | undefined {
  const m = FACADE_FILE_ID.exec(id) ?? FACADE_BATCH_ID.exec(id);
  return m?.[1] ? Number.parseInt(m[1], 36) : undefined;
}

export function isFacadeBatchId(id: string): boolean {
  return FACADE_BATCH_ID.test(id);
}

/** The batch and kind of a virtual result file id, if it is one. */
export function parseResultFileId(id: string): { batchId: string; kind: 'output' | 'errors' } | undefined {
  const m = FACADE_RESULT_FILE_ID.exec(id);
  return m ? { batchId: m[1] as string, kind: m[2] as 'output' | 'errors' } : undefined;
}

export function resultFileId(batchId: string, kind: 'output' | 'errors'): string {
  return `file-${batchId}-${kind}`;
}

/** The request id of line `index` (0-based) of a batch (see newFacadeBatchId). */
export function facadeLineId(batchId: string, index: number): string {
  return `breq_${batchId.slice(6)}${index.toString(36).padStart(4, '0')}`;
}

/** The partition of a tenant's Batch API files and batches (stable: listing reads one partition). */
export function facadePartition(partitions: number, tenant: string): number {
  if (partitions <= 1) return 0;
  return createHash('sha1').update(`facade\n${tenant}`).digest().readUInt32BE(0) % partitions;
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
