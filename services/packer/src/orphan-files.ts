/**
 * Input files left at the provider by an upload whose file id was never recorded (the process died between
 * `files.create` and `recordUpload`). They cost storage, not money, and we never reuse them — whether such a file is
 * complete cannot be told cheaply, and a re-upload is always correct — so a retried flush deletes them before it
 * uploads again. Best effort: errors are the caller's to log, never a reason to fail the flush.
 */
import type OpenAI from 'openai';

/** The provider-side name of a flush's input file; recovery finds orphans by it. */
export function flushFileName(flushId: string): string {
  return `batchbridge-${flushId}.jsonl`;
}

/** Deletes this flush's files among the newest `maxFiles` batch files created since `notBeforeSec`; returns how many. */
export async function deleteOrphanFiles(
  provider: OpenAI,
  flushId: string,
  notBeforeSec: number,
  maxFiles = 500,
): Promise<number> {
  const name = flushFileName(flushId);
  let seen = 0;
  let deleted = 0;
  for await (const file of provider.files.list({ purpose: 'batch', order: 'desc', limit: 100 })) {
    if (++seen > maxFiles) break;
    const created = Number(file.created_at);
    if (Number.isFinite(created) && created < notBeforeSec) break;
    if (file.filename === name) {
      await provider.files.delete(file.id);
      deleted += 1;
    }
  }
  return deleted;
}
