/**
 * The public objects of the Batch API facade in OpenAI's shapes (SPEC §12; `Batch` and `OpenAIFile` of
 * openai-openapi.yaml): integer Unix-second timestamps, `request_counts`, `errors`, so the official SDKs' types hold.
 */
import type { FacadeBatchRecord, FacadeFileRecord } from '@batchbridge/domain';

const secs = (ms: number | undefined) => (ms === undefined ? null : Math.floor(ms / 1000));

export function fileObject(f: FacadeFileRecord) {
  return {
    id: f.id,
    object: 'file' as const,
    bytes: f.bytes,
    created_at: secs(f.created_at) as number,
    filename: f.filename,
    purpose: 'batch' as const,
    status: 'processed' as const,
    expires_at: null,
    status_details: null,
  };
}

/** A batch's output or error file: virtual (streamed from its lines' records), so its size is not known here. */
export function resultFileObject(b: FacadeBatchRecord, kind: 'output' | 'errors') {
  const ended = b.completed_at ?? b.failed_at ?? b.expired_at ?? b.cancelled_at ?? b.created_at;
  return {
    id: (kind === 'output' ? b.output_file_id : b.error_file_id) as string,
    object: 'file' as const,
    bytes: 0,
    created_at: secs(ended) as number,
    filename: `${b.id}_${kind === 'output' ? 'output' : 'error'}.jsonl`,
    purpose: 'batch_output' as const,
    status: 'processed' as const,
    expires_at: null,
    status_details: null,
  };
}

export function batchObject(b: FacadeBatchRecord) {
  const validating = b.status === 'validating';
  return {
    id: b.id,
    object: 'batch' as const,
    endpoint: b.endpoint,
    errors: b.errors ?? null,
    input_file_id: b.input_file_id,
    completion_window: b.completion_window,
    status: b.status,
    output_file_id: b.output_file_id ?? null,
    error_file_id: b.error_file_id ?? null,
    created_at: secs(b.created_at) as number,
    in_progress_at: secs(b.in_progress_at),
    expires_at: secs(b.expires_at),
    finalizing_at: secs(b.finalizing_at),
    completed_at: secs(b.completed_at),
    failed_at: secs(b.failed_at),
    expired_at: secs(b.expired_at),
    cancelling_at: secs(b.cancelling_at),
    cancelled_at: secs(b.cancelled_at),
    // As a provider: the total is known once validation (here: enqueueing every line) is over.
    request_counts: {
      total: validating ? 0 : b.total,
      completed: b.n_completed,
      failed: b.n_failed + b.n_cancelled,
    },
    metadata: b.metadata ?? {},
  };
}
