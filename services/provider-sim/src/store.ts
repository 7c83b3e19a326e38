/**
 * In-memory registry of files and batches. File *contents* live on disk under the data directory; only metadata is
 * kept in memory, so a 200 MB upload costs a few hundred bytes of heap.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface FileRecord {
  id: string;
  bytes: number;
  /** Unix seconds. */
  created_at: number;
  /** Unix seconds, or null when the file does not expire. */
  expires_at: number | null;
  filename: string;
  purpose: 'batch' | 'batch_output';
  /** Where the content is stored. */
  path: string;
}

export type BatchStatus =
  | 'validating'
  | 'failed'
  | 'in_progress'
  | 'finalizing'
  | 'completed'
  | 'expired'
  | 'cancelling'
  | 'cancelled';

export interface BatchErrorItem {
  code: string;
  message: string;
  param: string | null;
  line: number | null;
}

export type BatchTimestampField =
  | 'created_at'
  | 'in_progress_at'
  | 'expires_at'
  | 'finalizing_at'
  | 'completed_at'
  | 'failed_at'
  | 'expired_at'
  | 'cancelling_at'
  | 'cancelled_at';

export interface BatchRecord extends Record<BatchTimestampField, number | null> {
  id: string;
  endpoint: string;
  input_file_id: string;
  completion_window: string;
  status: BatchStatus;
  created_at: number;
  expires_at: number;
  output_file_id: string | null;
  error_file_id: string | null;
  errors: { object: 'list'; data: BatchErrorItem[] } | null;
  request_counts: { total: number; completed: number; failed: number };
  usage: { input_tokens: number; output_tokens: number };
  metadata: Record<string, string> | null;
  /** The model of a single-model batch, once validated. */
  model: string | null;
  /** Set by `POST /batches/{id}/cancel`; the runner reads it between lines. */
  cancelRequested: boolean;
  /** Tokens counted against the enqueued-token limit while the batch is unfinished. */
  enqueuedTokens: number;
}

/** A batch as it is created (`validating`, nothing counted yet), whatever the API that created it. */
export function newBatchRecord(
  fields: Pick<BatchRecord, 'id' | 'endpoint' | 'input_file_id' | 'completion_window' | 'metadata' | 'model'> & {
    /** Seconds from creation to expiry. */
    windowSeconds: number;
  },
): BatchRecord {
  const created = Math.floor(Date.now() / 1000);
  const { windowSeconds, ...rest } = fields;
  return {
    ...rest,
    status: 'validating',
    created_at: created,
    in_progress_at: null,
    expires_at: created + windowSeconds,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    output_file_id: null,
    error_file_id: null,
    errors: null,
    request_counts: { total: 0, completed: 0, failed: 0 },
    usage: { input_tokens: 0, output_tokens: 0 },
    cancelRequested: false,
    enqueuedTokens: 0,
  };
}

export const TERMINAL_STATUSES: ReadonlySet<BatchStatus> = new Set(['failed', 'completed', 'expired', 'cancelled']);

export class SimStore {
  readonly files = new Map<string, FileRecord>();
  /** Insertion order is creation order; lists walk it backwards (newest first). */
  readonly batches = new Map<string, BatchRecord>();
  readonly #filesDir: string;
  /** Files being read by a batch: deleting them only hides them until the batch is done. */
  readonly #pins = new Map<string, number>();
  readonly #unlinkWhenUnpinned = new Set<string>();

  constructor(dataDir: string) {
    this.#filesDir = join(dataDir, 'files');
  }

  get filesDir(): string {
    return this.#filesDir;
  }

  pathFor(fileId: string): string {
    return join(this.#filesDir, fileId);
  }

  pin(file: FileRecord): void {
    this.#pins.set(file.path, (this.#pins.get(file.path) ?? 0) + 1);
  }

  async unpin(file: FileRecord): Promise<void> {
    const count = (this.#pins.get(file.path) ?? 1) - 1;
    if (count > 0) {
      this.#pins.set(file.path, count);
      return;
    }
    this.#pins.delete(file.path);
    if (this.#unlinkWhenUnpinned.delete(file.path)) await rm(file.path, { force: true });
  }

  async deleteFile(id: string): Promise<boolean> {
    const file = this.files.get(id);
    if (!file) return false;
    this.files.delete(id);
    if (this.#pins.has(file.path)) this.#unlinkWhenUnpinned.add(file.path);
    else await rm(file.path, { force: true });
    return true;
  }

  /** Tokens of all unfinished batches, for the enqueued-token limit. */
  enqueuedTokens(): number {
    let total = 0;
    for (const batch of this.batches.values()) {
      if (!TERMINAL_STATUSES.has(batch.status)) total += batch.enqueuedTokens;
    }
    return total;
  }

  async clear(): Promise<void> {
    const paths = [...this.files.values()].map((f) => f.path);
    this.files.clear();
    this.batches.clear();
    this.#unlinkWhenUnpinned.clear();
    this.#pins.clear();
    await Promise.all(paths.map((p) => rm(p, { force: true })));
  }
}
