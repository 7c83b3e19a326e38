/**
 * Writes a flush's batch input (JSONL) to a temporary file, streaming: request ids and bodies are read from Redis a
 * slice at a time and written with backpressure, so memory stays bounded by one slice whatever the batch size (I4).
 *
 * Line order is the flush's id list order (line n = index n-1), which the poller relies on to map a provider's
 * line-numbered validation errors back to requests. A request whose record is gone (it cannot normally happen: a
 * batched record has no expiry and eviction is refused) gets no line; the caller then removes those ids from the list
 * (`store.dropFromFlush`) *before* uploading, so the list again equals the file. A crash in between only discards the
 * temporary file: the next run rebuilds it from the list and finds the same ids missing.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { FlushRecord, PartitionId, Store } from '@batchbridge/domain';
import { batchLine, endpointOfGroup } from '@batchbridge/domain';

/** Ids per Redis round trip at most. */
const MAX_SLICE = 1_000;
/** Aim for about this many bytes of bodies per slice (a flush of large requests reads fewer at a time). */
const SLICE_BYTES = 8 * 1024 * 1024;

export interface FlushFile {
  /** Lines written. */
  lines: number;
  bytes: number;
  /** Ids of the flush whose record was gone (no line written). */
  missing: string[];
}

export async function writeFlushFile(
  store: Store,
  p: PartitionId,
  flush: FlushRecord,
  path: string,
  onFirstSlice?: () => void,
  /** The provider's own name of a model a client sent (aliases, SPEC §11); unset: bodies go as they are. */
  renameModel?: (model: string) => string,
): Promise<FlushFile> {
  const avg = flush.count > 0 ? flush.bytes / flush.count : 1;
  const slice = Math.max(1, Math.min(MAX_SLICE, Math.floor(SLICE_BYTES / Math.max(1, avg))));
  const out = createWriteStream(path, { flags: 'w' });
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  const result: FlushFile = { lines: 0, bytes: 0, missing: [] };
  const url = endpointOfGroup(flush.group);
  try {
    for (let start = 0; ; start += slice) {
      const ids = await store.flushes.ids(p, flush.id, start, start + slice - 1);
      if (ids.length === 0) break;
      const bodies = await store.requests.bodies(p, ids);
      for (let i = 0; i < ids.length; i++) {
        const id = ids[i] as string;
        const body = bodies[i];
        if (body === undefined) {
          result.missing.push(id);
          continue;
        }
        const line = batchLine(id, renameModel ? renamed(body, renameModel) : body, url);
        result.lines += 1;
        result.bytes += Buffer.byteLength(line);
        if (!out.write(line)) await Promise.race([once(out, 'drain'), failed]);
      }
      if (start === 0) onFirstSlice?.();
      if (ids.length < slice) break;
    }
    out.end();
    await Promise.race([once(out, 'finish'), failed]);
    return result;
  } catch (err) {
    out.destroy();
    throw err;
  }
}

/** The body with its `model` renamed, or the very same text when the name does not change. */
function renamed(body: string, rename: (model: string) => string): string {
  const parsed = JSON.parse(body) as { model?: unknown };
  if (typeof parsed.model !== 'string') return body;
  const to = rename(parsed.model);
  if (to === parsed.model) return body;
  parsed.model = to;
  return JSON.stringify(parsed);
}
