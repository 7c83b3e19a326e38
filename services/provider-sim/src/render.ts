/**
 * Wire shapes of files and batches per profile: OpenAI renders unix seconds as integers; kluster renders them as
 * strings when a batch is retrieved, listed or cancelled (not in the create answer) and in file objects, as its guide
 * shows.
 */
import { type SimProfile, windowLabel } from './profiles.js';
import type { BatchRecord, BatchTimestampField, FileRecord } from './store.js';

type Timestamp = number | string | null;

function ts(value: number | null, asString: boolean): Timestamp {
  if (value === null) return null;
  return asString ? String(value) : value;
}

export function renderFile(file: FileRecord, profile: SimProfile): Record<string, unknown> {
  return {
    id: file.id,
    object: 'file',
    bytes: file.bytes,
    created_at: ts(file.created_at, profile.stringTimestamps),
    expires_at: ts(file.expires_at, profile.stringTimestamps),
    filename: file.filename,
    purpose: file.purpose,
    status: 'processed',
    status_details: null,
  };
}

const TIMESTAMP_FIELDS: readonly BatchTimestampField[] = [
  'created_at',
  'in_progress_at',
  'expires_at',
  'finalizing_at',
  'completed_at',
  'failed_at',
  'expired_at',
  'cancelling_at',
  'cancelled_at',
];

/** `context` is `create` for the answer to `POST /batches`, where kluster still uses integers. */
export function renderBatch(
  batch: BatchRecord,
  profile: SimProfile,
  context: 'create' | 'read' = 'read',
): Record<string, unknown> {
  const asString = profile.stringTimestamps && context === 'read';
  const out: Record<string, unknown> = {
    id: batch.id,
    object: 'batch',
    endpoint: batch.endpoint,
    errors: batch.errors ? { object: 'list', data: batch.errors.data.map((e) => ({ ...e })) } : null,
    input_file_id: batch.input_file_id,
    completion_window: profile.windowQuirk === 'label' ? windowLabel(batch.completion_window) : batch.completion_window,
    status: batch.status,
    output_file_id: batch.output_file_id,
    error_file_id: batch.error_file_id,
  };
  for (const field of TIMESTAMP_FIELDS) out[field] = ts(batch[field], asString);
  out.request_counts = { ...batch.request_counts };
  out.metadata = batch.metadata ? { ...batch.metadata } : profile.name === 'kluster' ? {} : null;
  if (profile.name === 'openai') {
    if (batch.model) out.model = batch.model;
    out.usage = {
      input_tokens: batch.usage.input_tokens,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: batch.usage.output_tokens,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: batch.usage.input_tokens + batch.usage.output_tokens,
    };
  }
  return out;
}
