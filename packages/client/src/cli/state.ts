/**
 * The state file of `batchbridge submit` (default `<input>.bbstate`), what makes a submit resumable after Ctrl-C or a
 * crash. JSON lines: first a header with a random run id — line `n` of the input is always sent with the
 * Idempotency-Key `bb-cli-<run>-<n>`, on this run and on every resumed one —, the input's size and SHA-256 (a resume of
 * a changed file is refused) and the options a line's request depends on; then one entry per line the service
 * answered: its request id, or the error that refused it.
 *
 * Entries are appended without fsync: an entry lost in a crash only means its line is sent again on resume, with the
 * same key, and the service answers with the request it already holds (200 `Idempotent-Replayed`) — a line is never
 * queued twice. Idempotency-Keys are kept by the service for `IDEMPOTENCY_TTL` (24 h by default): resume within it.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { UsageError } from './exit.js';

export interface StateHeader {
  v: 1;
  run: string;
  input: { path: string; size: number; sha256: string };
  base_url: string;
  endpoint: string | null;
  callback_url: string | null;
  created_at: string;
}

export interface LineError {
  status: number;
  code: string;
  message: string;
}

export type Entry = { l: number; id: string } | { l: number; err: LineError };

export interface LoadedState {
  header: StateHeader;
  /** Per input line number (1-based): the request id, or why the line was refused. */
  lines: Map<number, { id: string } | { err: LineError }>;
}

export function idempotencyKey(run: string, line: number): string {
  return `bb-cli-${run}-${line}`;
}

export async function fingerprint(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return { size: statSync(path).size, sha256: hash.digest('hex') };
}

export function readState(statePath: string): LoadedState | undefined {
  if (!existsSync(statePath)) return undefined;
  const text = readFileSync(statePath, 'utf8');
  // No complete header line: the first run died while writing it, before it sent any line.
  if (!text.includes('\n')) return undefined;
  const rows = text.split('\n');
  let header: StateHeader;
  try {
    header = JSON.parse(rows[0] ?? '') as StateHeader;
  } catch {
    throw new UsageError(
      `${statePath} is not a batchbridge state file (pass another --state, or --restart to overwrite it)`,
    );
  }
  if (header.v !== 1 || typeof header.run !== 'string')
    throw new UsageError(
      `${statePath} is not a batchbridge state file (pass another --state, or --restart to overwrite it)`,
    );
  const lines = new Map<number, { id: string } | { err: LineError }>();
  for (const row of rows.slice(1)) {
    if (row.trim() === '') continue;
    let entry: Entry;
    try {
      entry = JSON.parse(row) as Entry;
    } catch {
      continue; // a row cut short by a crash: its line is sent again (same key)
    }
    if ('id' in entry) lines.set(entry.l, { id: entry.id });
    else if (!lines.has(entry.l)) lines.set(entry.l, { err: entry.err });
  }
  return { header, lines };
}

/** Writes a new state file (header only), durably, before the first line is sent. */
export function createState(statePath: string, header: Omit<StateHeader, 'v' | 'run' | 'created_at'>): StateHeader {
  const full: StateHeader = { v: 1, run: randomUUID(), ...header, created_at: new Date().toISOString() };
  const fd = openSync(statePath, 'w');
  try {
    writeSync(fd, `${JSON.stringify(full)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return full;
}

/** Appends entries, buffered; `close` writes what is left. */
export class StateWriter {
  #buffer: string[] = [];
  #pending: Promise<void> = Promise.resolve();
  #handle: Promise<import('node:fs/promises').FileHandle>;
  #timer: NodeJS.Timeout;

  constructor(statePath: string) {
    this.#handle = open(statePath, 'a');
    this.#timer = setInterval(() => this.flush(), 200);
    this.#timer.unref();
  }

  add(entry: Entry): void {
    this.#buffer.push(`${JSON.stringify(entry)}\n`);
    if (this.#buffer.length >= 256) this.flush();
  }

  flush(): Promise<void> {
    if (this.#buffer.length === 0) return this.#pending;
    const text = this.#buffer.join('');
    this.#buffer = [];
    this.#pending = this.#pending.then(async () => {
      await (await this.#handle).appendFile(text);
    });
    return this.#pending;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    await (await this.#handle).close();
  }
}
