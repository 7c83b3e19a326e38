/**
 * Object ids in each provider's style: OpenAI (`file-…`, `batch_…`, `batch_req_…`, `req_…`) or kluster's Mongo-like
 * 24-hex ids.
 */
import { randomBytes } from 'node:crypto';

export type IdKind = 'file' | 'batch' | 'batch_req' | 'request';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

function base62(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += BASE62[byte % 62];
  return out;
}

let objectIdCounter = randomBytes(3).readUIntBE(0, 3);

function objectId(): string {
  objectIdCounter = (objectIdCounter + 1) % 0xffffff;
  const seconds = Math.floor(Date.now() / 1000)
    .toString(16)
    .padStart(8, '0');
  return seconds + randomBytes(5).toString('hex') + objectIdCounter.toString(16).padStart(6, '0');
}

/** Generates a fresh id of the given kind in the given style. */
export function newId(kind: IdKind, style: 'openai' | 'objectid'): string {
  if (kind === 'request') return `req_${randomBytes(16).toString('hex')}`;
  if (kind === 'batch_req') return `batch_req_${randomBytes(16).toString('hex')}`;
  if (style === 'objectid') return objectId();
  return kind === 'file' ? `file-${base62(22)}` : `batch_${randomBytes(16).toString('hex')}`;
}
