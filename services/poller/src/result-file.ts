/**
 * Reads one provider result file (output or error JSONL) as a stream, line by line, so that memory stays flat whatever
 * the file size (invariant I4). Each line is validated with `ResultLineSchema`.
 *
 * A broken stream, a download idle for too long, or a last line that is not JSON (the connection closed mid-line) are
 * reported as `TruncatedDownloadError`: the job is retried and the file routed again from the start, which is harmless
 * because settling a request twice changes nothing. A malformed line in the middle of the file is reported and
 * skipped; its request is then treated as missing from the output.
 */
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type ResultLine, ResultLineSchema } from '@batchbridge/provider';
import type OpenAI from 'openai';
import { TruncatedDownloadError } from './errors.js';

export type FileItem =
  | { kind: 'line'; line: ResultLine }
  | { kind: 'malformed'; lineNumber: number; reason: 'json' | 'schema' };

export interface ReadResultFileOptions {
  /** Abort the download when no bytes arrive for this long. */
  idleTimeoutMs: number;
}

export async function* readResultFile(
  provider: OpenAI,
  fileId: string,
  options: ReadResultFileOptions,
): AsyncGenerator<FileItem> {
  const abort = new AbortController();
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    abort.abort();
  }, options.idleTimeoutMs);
  let input: Readable | undefined;
  let lines: ReturnType<typeof createInterface> | undefined;
  try {
    const response = await provider.files.content(fileId, { signal: abort.signal });
    timer.refresh();
    if (!response.body) return;
    input = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    input.on('data', () => timer.refresh());
    lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    // One line of lookahead: only the last line of a file can be a cut-off one.
    let previous: string | undefined;
    let lineNumber = 0;
    try {
      for await (const raw of lines) {
        if (raw.trim() === '') continue;
        if (previous !== undefined) yield parse(previous, lineNumber);
        previous = raw;
        lineNumber++;
      }
    } catch (err) {
      throw new TruncatedDownloadError(
        fileId,
        idle ? `no data for ${options.idleTimeoutMs} ms` : (err as Error).message,
        err,
      );
    }
    if (previous !== undefined) {
      const item = parse(previous, lineNumber);
      if (item.kind === 'malformed' && item.reason === 'json') {
        throw new TruncatedDownloadError(fileId, `last line (${lineNumber}) is not complete JSON`);
      }
      yield item;
    }
  } finally {
    clearTimeout(timer);
    lines?.close();
    input?.destroy();
  }
}

function parse(raw: string, lineNumber: number): FileItem {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: 'malformed', lineNumber, reason: 'json' };
  }
  const parsed = ResultLineSchema.safeParse(json);
  return parsed.success ? { kind: 'line', line: parsed.data } : { kind: 'malformed', lineNumber, reason: 'schema' };
}
