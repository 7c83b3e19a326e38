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
import { nodeBodyOf, type ResultLine, ResultLineSchema, type ResultSource } from '@batchbridge/provider';
import type OpenAI from 'openai';
import { TruncatedDownloadError } from './errors.js';
import { parseLazy, type SpanMap } from './lazy-json.js';

/**
 * A line of the file. `bodyBytes`, for a large line of a provider that needs no mapping, is its response body as the
 * provider wrote it (see lazy-json.ts): stored as it is instead of being serialised again.
 */
export type FileItem =
  | { kind: 'line'; line: ResultLine; bodyBytes?: Buffer }
  | { kind: 'malformed'; lineNumber: number; reason: 'json' | 'schema' | 'line_too_long' };

/** Lines longer than this (an embeddings answer) are read with `parseLazy`, shorter ones with `JSON.parse`. */
export const LAZY_LINE_CHARS = 16 * 1024;

/** The longest result line read into memory (a completion with logprobs of a long answer stays far below). */
export const MAX_RESULT_LINE_BYTES = 32 * 1024 * 1024;

export interface ReadResultFileOptions {
  /** Abort the download when no bytes arrive for this long. */
  idleTimeoutMs: number;
  /** @defaultValue {@link MAX_RESULT_LINE_BYTES} */
  maxLineBytes?: number;
}

/**
 * A line of the file: its text, its bytes when longer than the split's `bytesOver` (read by `parseLazy`), or the marker
 * of a line longer than the cap (whose bytes were dropped).
 */
type RawLine = string | Buffer | { tooLong: true };

/**
 * Splits a byte stream on `\n` (a byte that is never part of a multi-byte UTF-8 sequence), holding at most `max` bytes
 * of one line; the rest of a longer line is dropped as it streams by. A `\r` before the `\n` is removed.
 */
export async function* splitLines(
  input: AsyncIterable<Buffer | Uint8Array>,
  max: number,
  bytesOver = Number.POSITIVE_INFINITY,
): AsyncGenerator<RawLine> {
  let parts: Buffer[] = [];
  let held = 0;
  let tooLong = false;
  const whole = (): Buffer | string => {
    // A line within one chunk is a view of it (no copy); only a line across chunks is copied together.
    let bytes = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, held);
    if (bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    return bytes.length > bytesOver ? bytes : bytes.toString('utf8');
  };
  const finish = (): RawLine => {
    const line: RawLine = tooLong ? { tooLong: true } : whole();
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
      open: async (signal) => {
        const response = await provider.files.content(fileId, { signal });
        return nodeBodyOf(response) ?? (response.body as ReadableStream<Uint8Array> | null) ?? null;
      },
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
  const toLine = source.toResultLine ? source.toResultLine.bind(source) : undefined;
  const abort = new AbortController();
  let idle = false;
  const timer = setTimeout(() => {
    idle = true;
    abort.abort();
  }, options.idleTimeoutMs);
  let stop: (() => void) | undefined;
  try {
    const body = await source.open(abort.signal);
    timer.refresh();
    if (!body) return;
    let chunks: () => AsyncGenerator<Uint8Array>;
    if (body instanceof ReadableStream) {
      // A web stream's chunks as they come, read directly: a Node Readable around it (Readable.fromWeb) cost a third
      // of the poller's CPU on a 1 GB embeddings file, in stream machinery alone.
      const r = body.getReader();
      stop = () => void r.cancel().catch(() => undefined);
      chunks = async function* () {
        for (;;) {
          const { done, value } = await r.read();
          if (done) return;
          timer.refresh();
          yield value;
        }
      };
    } else {
      // A Node Readable (the OpenAI-compatible adapter's downloads: download-fetch.ts), cheaper still.
      stop = () => body.destroy();
      chunks = async function* () {
        for await (const chunk of body) {
          timer.refresh();
          yield chunk as Buffer;
        }
      };
    }
    // Long lines of a provider that needs no mapping stay bytes, for parseLazy.
    const lines = splitLines(
      chunks(),
      options.maxLineBytes ?? MAX_RESULT_LINE_BYTES,
      toLine ? Number.POSITIVE_INFINITY : LAZY_LINE_CHARS,
    );
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
    // Stops the download (a line cap, a failure, a consumer that stopped early); nothing to do once it ended.
    stop?.();
  }
}

function parse(raw: RawLine, lineNumber: number, toLine: ((json: unknown) => unknown) | undefined): FileItem {
  if (typeof raw !== 'string' && !Buffer.isBuffer(raw))
    return { kind: 'malformed', lineNumber, reason: 'line_too_long' };
  // A long line comes as bytes (a provider line mapped by its adapter, and a short line, as text: JSON.parse is the
  // fastest there).
  // A Map, not a WeakMap: it dies with the line, and weak tables cost the garbage collector more.
  const spans: SpanMap | undefined = Buffer.isBuffer(raw) ? new Map() : undefined;
  let json: unknown;
  try {
    json = Buffer.isBuffer(raw) ? parseLazy(raw, spans) : JSON.parse(raw);
  } catch {
    return { kind: 'malformed', lineNumber, reason: 'json' };
  }
  let mapped: unknown = json;
  if (toLine) {
    try {
      mapped = toLine(json);
    } catch {
      return { kind: 'malformed', lineNumber, reason: 'schema' };
    }
  }
  const parsed = ResultLineSchema.safeParse(mapped);
  if (!parsed.success) return { kind: 'malformed', lineNumber, reason: 'schema' };
  const body = parsed.data.response?.body;
  const span = spans && typeof body === 'object' && body !== null ? spans.get(body) : undefined;
  return span && Buffer.isBuffer(raw)
    ? { kind: 'line', line: parsed.data, bodyBytes: raw.subarray(span.start, span.end) }
    : { kind: 'line', line: parsed.data };
}
