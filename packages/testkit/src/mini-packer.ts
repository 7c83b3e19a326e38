/**
 * The mini-packer of the tests: builds real provider batches for queued requests the way the packer
 * does (enqueue → claim → JSONL upload → batches.create → recordSubmission → relay), against the provider simulator.
 */
import { batchLine, groupFor, newFlushId, type PartitionId, type RequestRecord } from '@batchbridge/domain';
import { FLUSH_METADATA_KEY } from '@batchbridge/provider';
import type { Runtime } from '@batchbridge/runtime';
import { toFile } from 'openai';
import { newRequestFixture } from './fixtures.js';
import { waitFor } from './wait-for.js';

export interface TestRequest {
  /** The user message (may carry simulator markers such as `[sim:error=400]`). */
  content: string;
  /** Body override (JSON text); default `{"model", "messages":[{"role":"user","content"}]}`. */
  body?: string;
}

export interface SubmittedBatch {
  batchId: string;
  flushId: string;
  inputFileId: string;
  /** The requests, in the order they were given (enqueue order). */
  ids: string[];
  /** The same requests in JSONL line order (the flush's order). */
  lineIds: string[];
  group: string;
  partition: PartitionId;
}

export interface SubmitOptions {
  model?: string;
  partition?: PartitionId;
  /** Raw JSONL lines appended after the requests' lines (e.g. a line for an unknown custom_id). */
  extraLines?: string[];
  /** Relay the poll job (as the packer does). @defaultValue true */
  relay?: boolean;
  /** Record this batch id instead of creating a provider batch (a batch the provider does not know). */
  fakeBatchId?: string;
}

export function chatRequestBody(model: string, content: string): string {
  return JSON.stringify({ model, messages: [{ role: 'user', content }] });
}

export async function enqueueRequests(
  rt: Runtime,
  requests: TestRequest[],
  model: string,
  partition: PartitionId = 0,
): Promise<{ ids: string[]; group: string }> {
  const group = groupFor('/v1/chat/completions', model, false);
  const ids: string[] = [];
  for (const r of requests) {
    const req = newRequestFixture({
      partition,
      model,
      content: r.content,
      body: r.body ?? chatRequestBody(model, r.content),
      callbackUrl: 'http://127.0.0.1:9/hook',
    });
    const result = await rt.store.requests.enqueue(req, {});
    if (result.kind !== 'created') throw new Error(`enqueue: ${result.kind}`);
    ids.push(req.id);
  }
  return { ids, group };
}

/** Claims every queued request of the group into one flush and submits it as one provider batch. */
export async function submitQueued(rt: Runtime, group: string, options: SubmitOptions = {}): Promise<SubmittedBatch> {
  const p = options.partition ?? 0;
  const provider = rt.provider;
  if (!provider) throw new Error('no provider');
  const flushId = newFlushId();
  const claim = await rt.store.flushes.claim(
    p,
    group,
    flushId,
    { maxRequests: 50_000, maxBytes: 1e9, maxTokens: 1e9, maxWaitMs: 1e9 },
    true,
  );
  if (!claim.claimed) throw new Error(`claim: ${claim.why}`);
  // No packer runs here: drop the flush job's outbox entry so that a sweep does not hand it to BullMQ.
  await rt.redis.zrem(rt.keys.partitionKeys(p).outbox, claim.outbox);
  const flush = await rt.store.flushes.get(p, flushId);
  if (!flush) throw new Error('flush missing');
  const lineIds = await rt.store.flushes.ids(p, flushId, 0, -1);
  const bodies = await rt.store.requests.bodies(p, lineIds);
  const jsonl = lineIds.map((id, i) => batchLine(id, bodies[i] ?? '{}')).join('') + (options.extraLines ?? []).join('');
  const file = await provider.files.create({ file: await toFile(Buffer.from(jsonl), 'batch.jsonl'), purpose: 'batch' });
  const batchId =
    options.fakeBatchId ??
    (
      await provider.batches.create({
        input_file_id: file.id,
        endpoint: '/v1/chat/completions',
        completion_window: '24h',
        metadata: { [FLUSH_METADATA_KEY]: flushId },
      })
    ).id;
  const entry = await rt.store.flushes.recordSubmission(p, flush, batchId, file.id);
  if (options.relay === false) await rt.redis.zrem(rt.keys.partitionKeys(p).outbox, entry);
  else await rt.relay.relay(p, [entry]);
  return { batchId, flushId, inputFileId: file.id, ids: lineIds, lineIds, group, partition: p };
}

export async function submitRequests(
  rt: Runtime,
  requests: TestRequest[],
  options: SubmitOptions = {},
): Promise<SubmittedBatch> {
  const model = options.model ?? 'gpt-4o-mini';
  const { ids, group } = await enqueueRequests(rt, requests, model, options.partition ?? 0);
  const submitted = await submitQueued(rt, group, options);
  return { ...submitted, ids };
}

export async function records(rt: Runtime, ids: string[]): Promise<RequestRecord[]> {
  return Promise.all(
    ids.map(async (id) => {
      const r = await rt.store.requests.get(id);
      if (!r) throw new Error(`record ${id} missing`);
      return r;
    }),
  );
}

/** Waits until the batch is routed (no longer live, `routed_at` set). */
export async function waitRouted(rt: Runtime, b: SubmittedBatch, timeoutMs = 15_000) {
  return waitFor(
    `batch ${b.batchId} routed`,
    async () => {
      const rec = await rt.store.batches.get(b.partition, b.batchId);
      return rec?.routed_at !== undefined ? rec : undefined;
    },
    timeoutMs,
  );
}

/** Sum of a counter's values with these labels. */
export async function counterValue(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, string | number> }> }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want))
    .reduce((n, v) => n + v.value, 0);
}
