/**
 * The `mistral` adapter (SPEC §11, profile `mistral`): Mistral's Batch API behind the provider seam. Its files are
 * OpenAI's (`/v1/files`, multipart, purpose `batch`, `/v1/files/{id}/content`), so the official `openai` SDK serves
 * them, and its jobs are spoken over the same client's generic `get`/`post` (retries off, every call counted):
 *
 * - **Input**: lines `{custom_id, body}` (Mistral's documented shape: no `method`/`url`; the model stays in the body,
 *   which Mistral allows, and is also named on the job). `uploadInput` rewrites the packer's OpenAI JSONL into that
 *   shape line by line into a temporary file next to it, uploads it from disk (I4) and removes it.
 * - **Create**: `POST /v1/batch/jobs {input_files: [id], model, endpoint, metadata: {batchbridge_flush_id, …},
 *   timeout_hours}` — the window as hours (`24h` → 24, `7d` → 168).
 * - **Status**: `QUEUED → validating`, `RUNNING → in_progress`, `SUCCESS → completed`, `FAILED → failed`,
 *   `TIMEOUT_EXCEEDED → expired`, `CANCELLATION_REQUESTED → cancelling`, `CANCELLED → cancelled`;
 *   `output_file`/`error_file` → `output_file_id`/`error_file_id`; counts from `total_requests`,
 *   `succeeded_requests`, `failed_requests`; `errors[{message}]` → `errors.data`.
 * - **Find by flush**: `GET /v1/batch/jobs?created_after=…` page by page (page numbers), matching
 *   `metadata.batchbridge_flush_id`; bounded like `findBatchByFlushId`, `undecided` past the bound.
 * - **Results**: the output then the error file, whose lines are OpenAI's result lines.
 */
import { File } from 'node:buffer';
import { once } from 'node:events';
import { createReadStream, createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { ProviderProfile } from '@batchbridge/config';
import type OpenAI from 'openai';
import type { BatchInputFile, CreateBatchParams, ProviderAdapter, ResultSource } from './adapter.js';
import {
  type FindBatchOptions,
  FLUSH_METADATA_KEY,
  type FlushBatchLookup,
  normalizeBatch,
  type ProviderBatch,
} from './batch.js';
import { OpenAIAdapter } from './openai-adapter.js';
import { type AdapterFactory, registerAdapterFactory, sdkClientsFor } from './registry.js';

/** A Mistral batch job as `GET /v1/batch/jobs/{id}` answers it (the fields read here). */
export interface MistralBatchJob {
  id: string;
  status: string;
  input_files?: string[] | null;
  metadata?: Record<string, unknown> | null;
  endpoint?: string;
  model?: string | null;
  output_file?: string | null;
  error_file?: string | null;
  errors?: Array<{ message?: string | null; count?: number | null }> | null;
  created_at?: number | string | null;
  completed_at?: number | string | null;
  total_requests?: number | null;
  succeeded_requests?: number | null;
  failed_requests?: number | null;
}

export const MISTRAL_STATUSES: Readonly<Record<string, ProviderBatch['status']>> = {
  QUEUED: 'validating',
  RUNNING: 'in_progress',
  SUCCESS: 'completed',
  FAILED: 'failed',
  TIMEOUT_EXCEEDED: 'expired',
  CANCELLATION_REQUESTED: 'cancelling',
  CANCELLED: 'cancelled',
};

/** A Mistral job in the seam's shape (OpenAI's vocabulary). */
export function fromMistralJob(job: MistralBatchJob): ProviderBatch {
  const status = MISTRAL_STATUSES[job.status.toUpperCase()];
  if (!status) throw new Error(`unknown Mistral batch status ${job.status}`);
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(job.metadata ?? {})) if (typeof v === 'string') metadata[k] = v;
  return normalizeBatch({
    id: job.id,
    status,
    input_file_id: job.input_files?.[0] ?? null,
    output_file_id: job.output_file ?? null,
    error_file_id: job.error_file ?? null,
    created_at: job.created_at ?? null,
    completed_at: job.completed_at ?? null,
    metadata,
    request_counts: {
      total: job.total_requests ?? 0,
      completed: job.succeeded_requests ?? 0,
      failed: job.failed_requests ?? 0,
    },
    errors:
      job.errors && job.errors.length > 0
        ? { data: job.errors.map((e) => ({ code: 'mistral_error', line: null, message: e.message ?? null })) }
        : null,
  });
}

/** `24h` → 24, `7d` → 168; anything else 24. */
export function timeoutHours(window: string): number {
  const m = /^(\d+)([hd])$/.exec(window);
  if (!m) return 24;
  const hours = Number(m[1]) * (m[2] === 'd' ? 24 : 1);
  return Math.min(Math.max(hours, 1), 168);
}

/** Rewrites the packer's OpenAI batch lines as Mistral's `{custom_id, body}` lines; answers the bytes written. */
export async function writeMistralInput(from: string, to: string): Promise<number> {
  const out = createWriteStream(to);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  let bytes = 0;
  const lines = createInterface({ input: createReadStream(from), crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const text of lines) {
      if (text.trim() === '') continue;
      const line = JSON.parse(text) as { custom_id: string; body: unknown };
      const rewritten = `${JSON.stringify({ custom_id: line.custom_id, body: line.body })}\n`;
      bytes += Buffer.byteLength(rewritten);
      if (!out.write(rewritten)) await Promise.race([once(out, 'drain'), failed]);
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    return bytes;
  } catch (err) {
    out.destroy();
    throw err;
  }
}

export interface MistralAdapterOptions {
  id: string;
  profile: ProviderProfile;
  client: () => OpenAI;
  uploadClient?: () => OpenAI;
}

export class MistralAdapter implements ProviderAdapter {
  readonly id: string;
  readonly profile: ProviderProfile;
  readonly inputMode = 'file' as const;
  readonly #client: () => OpenAI;
  readonly #upload: () => OpenAI;
  /** Files, deletes and model lists are OpenAI's. */
  readonly #files: OpenAIAdapter;

  constructor(options: MistralAdapterOptions) {
    this.id = options.id;
    this.profile = options.profile;
    this.#client = options.client;
    this.#upload = options.uploadClient ?? options.client;
    this.#files = new OpenAIAdapter({ ...options, uploadClient: this.#upload });
  }

  async uploadInput(input: BatchInputFile): Promise<{ fileId: string }> {
    const path = `${input.path}.mistral.jsonl`;
    try {
      await writeMistralInput(input.path, path);
      const file = new File([await openAsBlob(path)], input.filename, { type: 'application/jsonl' });
      const created = await this.#upload().files.create({ file, purpose: 'batch' }, { timeout: input.timeoutMs });
      return { fileId: created.id };
    } finally {
      await rm(path, { force: true });
    }
  }

  deleteOrphanInputs(flushId: string, notBeforeSec: number): Promise<number> {
    return this.#files.deleteOrphanInputs(flushId, notBeforeSec);
  }

  async createBatch(params: CreateBatchParams): Promise<ProviderBatch> {
    if (!params.fileId) throw new Error(`${this.id}: createBatch needs the uploaded input file id`);
    if (!params.model) throw new Error(`${this.id}: a Mistral job names one model; the flush has none`);
    const job = await this.#client().post<MistralBatchJob>('/batch/jobs', {
      body: {
        input_files: [params.fileId],
        model: params.model,
        endpoint: params.endpoint,
        metadata: { [FLUSH_METADATA_KEY]: params.flushId, batchbridge_partition: String(params.partition) },
        timeout_hours: timeoutHours(params.completionWindow),
      },
    });
    return fromMistralJob(job);
  }

  async retrieveBatch(batchId: string): Promise<ProviderBatch> {
    return fromMistralJob(await this.#client().get<MistralBatchJob>(`/batch/jobs/${encodeURIComponent(batchId)}`));
  }

  async findBatchByFlushId(flushId: string, options: FindBatchOptions): Promise<FlushBatchLookup> {
    const maxMs = options.maxMs ?? 120_000;
    const maxPages = options.maxPages ?? 2_000;
    const started = Date.now();
    const createdAfter = new Date(Math.max(0, options.notBeforeSec) * 1000).toISOString();
    let seen = 0;
    for (let page = 0; ; page++) {
      const res = await this.#client().get<{ data?: MistralBatchJob[]; total?: number }>('/batch/jobs', {
        query: { page, page_size: 100, created_after: createdAfter },
      });
      const jobs = res.data ?? [];
      for (const job of jobs) {
        if (job.metadata?.[FLUSH_METADATA_KEY] === flushId) return { kind: 'found', batch: fromMistralJob(job) };
      }
      seen += jobs.length;
      if (jobs.length === 0 || (typeof res.total === 'number' && seen >= res.total)) {
        return { kind: 'absent', pages: page + 1 };
      }
      if (page + 1 >= maxPages) {
        return { kind: 'undecided', pages: page + 1, reason: `still searching after ${page + 1} pages` };
      }
      if (Date.now() - started > maxMs) {
        return { kind: 'undecided', pages: page + 1, reason: `still searching after ${Math.round(maxMs / 1000)} s` };
      }
    }
  }

  async cancelBatch(batchId: string): Promise<ProviderBatch> {
    return fromMistralJob(
      await this.#client().post<MistralBatchJob>(`/batch/jobs/${encodeURIComponent(batchId)}/cancel`),
    );
  }

  resultSources(batch: ProviderBatch): ResultSource[] {
    return this.#files.resultSources(batch);
  }

  deleteFiles(fileIds: readonly string[]): Promise<void> {
    return this.#files.deleteFiles(fileIds);
  }

  listModels(options: { timeoutMs: number }): Promise<string[]> {
    return this.#files.listModels(options);
  }
}

/** The factory of protocol `mistral`: `base_url` as Mistral's SDK takes it plus `/v1` (`https://api.mistral.ai/v1`). */
export const mistralAdapterFactory: AdapterFactory = (config, context) =>
  new MistralAdapter(sdkClientsFor(config, context));

registerAdapterFactory('mistral', mistralAdapterFactory);
