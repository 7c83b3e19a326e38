// The Batch API facade's scripts (SPEC §12) against a real Redis: a create that a process left half done is resumed
// from the batch's cursor, a replayed chunk changes nothing, the last line ends the batch in the same script, and a
// cancel pass cancels only what is still queued.
import {
  encodeFacadeLine,
  FACADE_CHUNK_LINES,
  facadeLineId,
  KeySpace,
  newFacadeBatchId,
  newFacadeFileId,
  Store,
} from '@batchbridge/domain';
import { freshPrefix, sharedRedisUrl } from '@batchbridge/testkit';
import { describe, expect, it } from 'vitest';
import { useSharedRedis } from './shared-redis.js';

const shared = useSharedRedis();

async function fileOf(store: Store, lines: number): Promise<string> {
  const id = newFacadeFileId(0);
  let chunks = 0;
  for (let start = 0; start < lines; start += FACADE_CHUNK_LINES) {
    const chunk: string[] = [];
    for (let i = start; i < Math.min(lines, start + FACADE_CHUNK_LINES); i++) {
      chunk.push(
        encodeFacadeLine({
          customId: `c-${i}`,
          url: '/v1/chat/completions',
          model: 'm',
          group: '/v1/chat/completions|m',
          tokens: 3,
          inputs: 1,
          body: `{"model":"m","messages":[{"role":"user","content":"${i}"}]}`,
        }),
      );
    }
    await store.facade.writeChunk(0, id, chunks++, chunk);
  }
  await store.facade.commitFile(0, {
    id,
    tenant: 'acme',
    filename: 'f.jsonl',
    bytes: 1,
    lines,
    chunks,
    urls: { '/v1/chat/completions': 1 },
    models: { 'gpt-4o-mini': lines * 10 },
  });
  return id;
}

function setup() {
  const prefix = freshPrefix();
  return new Store(shared.redis, new KeySpace(prefix, 1), { retentionMs: 60_000, maxAttempts: 2 });
}

async function create(store: Store, fileId: string): Promise<string> {
  const id = newFacadeBatchId(0);
  const r = await store.facade.createBatch(0, {
    id,
    tenant: 'acme',
    fileId,
    endpoint: '/v1/chat/completions',
    window: '24h',
    windowMs: 86_400_000,
    metadata: null,
    callbackUrl: undefined,
    idempotencyKey: undefined,
    errors: undefined,
  });
  expect(r.kind).toBe('created');
  return id;
}

describe('facade store', () => {
  it('resumes a half-done create from its cursor; a replayed chunk changes nothing', async () => {
    const store = setup();
    const fileId = await fileOf(store, 2_500);
    const id = await create(store, fileId);
    expect(await store.facade.dueBatches(0)).toContain(id);
    // The first process enqueued chunk 0 and died.
    expect((await store.facade.enqueueChunk(0, id, 0))[0]).toBe('ok');
    // Its replay, or a second driver, finds the cursor moved.
    expect(await store.facade.enqueueChunk(0, id, 0)).toEqual(['cursor', 1]);
    // The sweep of another process resumes at chunk 1.
    let b = await store.facade.getBatch(id);
    expect(b?.next_chunk).toBe(1);
    expect(b?.status).toBe('validating');
    for (let n = b?.next_chunk ?? 0; n < (b?.chunks ?? 0); n++) await store.facade.enqueueChunk(0, id, n);
    b = await store.facade.getBatch(id);
    expect(b?.status).toBe('in_progress');
    expect(b?.enq_lines).toBe(2_500);
    expect((await store.requests.stateCounts()).queued).toBe(2_500);
    const last = await store.requests.get(facadeLineId(id, 2_499));
    expect(last?.client_ref).toBe('c-2499');
    expect(last?.callback_url).toBeUndefined();
  });

  it('cancel: the pass cancels the queued lines and the batch ends cancelled with its webhook job', async () => {
    const store = setup();
    const fileId = await fileOf(store, 1_200);
    const id = await create(store, fileId);
    for (let n = 0; n < 2; n++) await store.facade.enqueueChunk(0, id, n);
    expect(await store.facade.cancelBatch(id, 'globex')).toBe('not_found');
    expect(await store.facade.cancelBatch(id, 'acme')).toBe('cancelling');
    expect((await store.facade.endPass(0, id, 0, 1_000))[0]).toBe('ok');
    expect(await store.facade.endPass(0, id, 0, 1_000)).toEqual(['cursor', 1_000]);
    const end = await store.facade.endPass(0, id, 1_000, 1_000);
    expect(end.slice(0, 3)).toEqual(['ok', 1_200, 1_200]);
    expect(JSON.parse(String(end[3]))).toMatchObject({ queue: 'deliver', data: { requestId: id, batch: true } });
    const b = await store.facade.getBatch(id);
    expect(b).toMatchObject({ status: 'cancelled', n_cancelled: 1_200, error_file_id: `file-${id}-errors` });
    expect(b?.output_file_id).toBeUndefined();
    expect((await store.requests.stateCounts()).queued).toBe(0);
    expect(await store.facade.cancelBatch(id, 'acme')).toBe('conflict');
  });

  it('a file being enqueued cannot be deleted; once read it can', async () => {
    const store = setup();
    const fileId = await fileOf(store, 10);
    const id = await create(store, fileId);
    expect(await store.facade.deleteFile(0, 'acme', fileId, 'input')).toBe('busy');
    await store.facade.enqueueChunk(0, id, 0);
    expect(await store.facade.deleteFile(0, 'acme', fileId, 'input')).toBe('deleted');
    expect(await store.facade.getFile(fileId)).toBeUndefined();
  });
});
