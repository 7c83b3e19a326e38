/**
 * The adapter for OpenAI-compatible Batch APIs (profiles openai, doubleword, together, groq, kluster, generic): files
 * uploaded with `purpose=batch`, `/v1/batches` with `metadata.batchbridge_flush_id`, output and error files. Profile
 * quirks are absorbed here or in `normalizeBatch` (kluster's string timestamps, Doubleword's window label, upper-case
 * statuses), so that the packer and poller see one shape. See adapter.ts for the contract.
 */
import { File } from 'node:buffer';
import { openAsBlob } from 'node:fs';
import type { ProviderProfile } from '@batchbridge/config';
import type OpenAI from 'openai';
import type { BatchInputFile, CreateBatchParams, ProviderAdapter, ResultSource } from './adapter.js';
import { flushFileName } from './adapter.js';
import { type FindBatchOptions, FLUSH_METADATA_KEY, findBatchByFlushId, normalizeBatch } from './batch.js';
import { nodeBodyOf } from './download-fetch.js';

export interface OpenAIAdapterOptions {
  id: string;
  profile: ProviderProfile;
  /** The SDK client (read at each call: tests may swap it). */
  client: () => OpenAI;
  /** The client uploads go through (a fetch that streams from disk); @defaultValue `client` */
  uploadClient?: () => OpenAI;
}

/** Most file listings needed to find an earlier run's orphan upload. */
const MAX_ORPHAN_FILES = 500;

export class OpenAIAdapter implements ProviderAdapter {
  readonly id: string;
  readonly profile: ProviderProfile;
  readonly inputMode = 'file' as const;
  readonly #client: () => OpenAI;
  readonly #upload: () => OpenAI;

  constructor(options: OpenAIAdapterOptions) {
    this.id = options.id;
    this.profile = options.profile;
    this.#client = options.client;
    this.#upload = options.uploadClient ?? options.client;
  }

  /** The SDK client, for what is not part of the seam (tests, tools). */
  get client(): OpenAI {
    return this.#client();
  }

  async uploadInput(input: BatchInputFile): Promise<{ fileId: string }> {
    const file = new File([await openAsBlob(input.path)], input.filename, { type: 'application/jsonl' });
    const created = await this.#upload().files.create({ file, purpose: 'batch' }, { timeout: input.timeoutMs });
    return { fileId: created.id };
  }

  async deleteOrphanInputs(flushId: string, notBeforeSec: number): Promise<number> {
    const client = this.#client();
    const name = flushFileName(flushId);
    let seen = 0;
    let deleted = 0;
    for await (const file of client.files.list({ purpose: 'batch', order: 'desc', limit: 100 })) {
      if (++seen > MAX_ORPHAN_FILES) break;
      const created = Number(file.created_at);
      if (Number.isFinite(created) && created < notBeforeSec) break;
      if (file.filename === name) {
        await client.files.delete(file.id);
        deleted += 1;
      }
    }
    return deleted;
  }

  async createBatch(params: CreateBatchParams) {
    if (!params.fileId) throw new Error(`${this.id}: createBatch needs the uploaded input file id`);
    const batch = await this.#client().batches.create({
      input_file_id: params.fileId,
      endpoint: params.endpoint,
      // Doubleword takes 1h, Groq up to 7d; Together takes any value and ignores it.
      completion_window: params.completionWindow as '24h',
      metadata: { [FLUSH_METADATA_KEY]: params.flushId, batchbridge_partition: String(params.partition) },
    });
    return normalizeBatch(batch);
  }

  async retrieveBatch(batchId: string) {
    return normalizeBatch(await this.#client().batches.retrieve(batchId));
  }

  findBatchByFlushId(flushId: string, options: FindBatchOptions) {
    return findBatchByFlushId(this.#client(), flushId, options);
  }

  async cancelBatch(batchId: string) {
    return normalizeBatch(await this.#client().batches.cancel(batchId));
  }

  resultSources(batch: { output_file_id?: string | null | undefined; error_file_id?: string | null | undefined }) {
    const sources: ResultSource[] = [];
    for (const fileId of [batch.output_file_id, batch.error_file_id]) {
      if (!fileId) continue;
      sources.push({
        ref: fileId,
        open: async (signal) => {
          const response = await this.#client().files.content(fileId, { signal });
          // The Node stream when the client downloads through download-fetch.ts (no web stream per chunk).
          return nodeBodyOf(response) ?? (response.body as ReadableStream<Uint8Array> | null) ?? null;
        },
      });
    }
    return sources;
  }

  /** Deletes each file; one the provider no longer has is not an error. Other failures are thrown after the rest. */
  async deleteFiles(fileIds: readonly string[]): Promise<void> {
    let first: unknown;
    for (const fileId of new Set(fileIds)) {
      if (!fileId) continue;
      try {
        await this.#client().files.delete(fileId);
      } catch (err) {
        if ((err as { status?: number }).status !== 404) first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  async listModels(options: { timeoutMs: number }): Promise<string[]> {
    const ids: string[] = [];
    for await (const model of this.#client().models.list({ timeout: options.timeoutMs })) ids.push(model.id);
    return ids;
  }
}
