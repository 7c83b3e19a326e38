/**
 * Reads one provider result file (output or error JSONL) as a stream, line by line, so that memory stays flat whatever
 * the file size (invariant I4). Each line is validated with `ResultLineSchema`.
 *
 * A broken stream, a download idle for too long, or a last line that is not JSON (the connection closed mid-line) are
 * reported as `TruncatedDownloadError`: the job is retried and the file routed again from the start, which is harmless
 * because settling a request twice changes nothing. A malformed line in the middle of the file is reported and
 * skipped; its request is then treated as missing from the output. A line longer than `maxLineBytes` is never held
 * in memory: its bytes are dropped as they arrive and it is reported as malformed (`line_too_long`), so one huge answer
 * costs only its own request a retry (issue 16.13, I4).
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { type ResultLine, ResultLineSchema, type ResultSource } from '@batchbridge/provider';
import type OpenAI from 'openai';
import { TruncatedDownloadError } from './errors.js';

export type FileItem =
  | { kind: 'line'; line: ResultLine }
  | { kind: 'malformed'; lineNumber: number; reason: 'json' | 'schema' | 'line_too_long' };

/** The longest result line read into memory (a completion with logprobs of a long answer stays far below). */
export const MAX_RESULT_LINE_BYTES = 32 * 1024 * 1024;

export interface ReadResultFileOptions {
  /** Abort the download when no bytes arrive for this long. */
  idleTimeoutMs: number;
  /** @defaultValue {@link MAX_RESULT_LINE_BYTES} */
  maxLineBytes?: number;
}

/** A line of the file, or the marker of a line longer than the cap (whose bytes were dropped). */
type RawLine = string | { tooLong: true };

/**
 * Splits a byte stream on `\n` (a byte that is never part of a multi-byte UTF-8 sequence), holding at most `max` bytes
 * of one line; the rest of a longer line is dropped as it streams by. A `\r` before the `\n` is removed.
 */
export async function* splitLines(input: AsyncIterable<Buffer | Uint8Array>, max: number): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  const finish = (): RawLine => {
    const line: RawLine = tooLong ? { tooLong: true } : Buffer.concat(parts, held).toString('utf8').replace(/\r$/, '');
    parts = [];
    held = 0;
    tooLong = false;
    return line;
  };
  for await (const chunk of input) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      const end = nl < 0 ? buf.length : nl;
      if (!tooLong) {
        if (held + (end - start) > max) {
          tooLong = true;
          parts = [];
          held = 0;
        } else if (end > start) {
          parts.push(buf.subarray(start, end));
          held += end - start;
        }
      }
      if (nl < 0) break;
      yield finish();
      start = nl + 1;
    }
  }
  if (held > 0 || tooLong) yield finish();
}

/** One result file of an OpenAI-compatible provider, by id. */
export function readResultFile(
  provider: OpenAI,
  fileId: string,
  options: ReadResultFileOptions,
): AsyncGenerator<FileItem> {
  return readResultSource(
    {
      ref: fileId,
      open: async (signal) =>
        ((await provider.files.content(fileId, { signal })).body as ReadableStream<Uint8Array> | null) ?? null,
    },
    options,
  );
}

/** One result stream of any provider (adapter.ts `ResultSource`), each line mapped by its `toResultLine`. */
export async function* readResultSource(
  source: ResultSource,
  options: ReadResultFileOptions,
): AsyncGenerator<FileItem> {
  const fileId = source.ref;
  const toLine = source.toResultLine ? source.toResultLine.bind(source) : (json: unknown) => json;
  const abort = new AbortController();
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    abort.abort();
  }, options.idleTimeoutMs);
  let input: Readable | undefined;
  try {
    const body = await source.open(abort.signal);
    timer.refresh();
    if (!body) return;
    input = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
    input.on('data', () => timer.refresh());
    const lines = splitLines(input, options.maxLineBytes ?? MAX_RESULT_LINE_BYTES);
    // One line of lookahead: only the last line of a file can be a cut-off one.
    let previous: RawLine | undefined;
    let lineNumber = 0;
    try {
      for await (const raw of lines) {
        if (typeof raw === 'string' && raw.trim() === '') continue;
        if (previous !== undefined) yield parse(previous, lineNumber, toLine);
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
      const item = parse(previous, lineNumber, toLine);
      if (item.kind === 'malformed' && item.reason === 'json') {
        throw new TruncatedDownloadError(fileId, `last line (${lineNumber}) is not complete JSON`);
      }
      yield item;
    }
  } finally {
    clearTimeout(timer);
    input?.destroy();
  }
}

function parse(raw: RawLine, lineNumber: number, toLine: (json: unknown) => unknown): FileItem {
  if (typeof raw !== 'string') return { kind: 'malformed', lineNumber, reason: 'line_too_long' };
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { kind: 'malformed', lineNumber, reason: 'json' };
  }
  let mapped: unknown;
  try {
    mapped = toLine(json);
  } catch {
    return { kind: 'malformed', lineNumber, reason: 'schema' };
  }
  const parsed = ResultLineSchema.safeParse(mapped);
  return parsed.success ? { kind: 'line', line: parsed.data } : { kind: 'malformed', lineNumber, reason: 'schema' };
}
