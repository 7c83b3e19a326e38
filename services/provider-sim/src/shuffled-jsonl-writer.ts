/**
 * Writes JSONL lines to disk in shuffled order, like real providers whose output order does not follow the input.
 * Lines are shuffled within windows of a bounded size (lines and characters), so memory does not grow with the batch;
 * a line too large to buffer (an embeddings answer with many vectors) is written through in its chunks, between two
 * windows.
 */

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Rng } from './rng.js';

/** A window is flushed once it holds this many characters, whatever its line count. */
const MAX_WINDOW_CHARS = 8 * 1024 * 1024;
/** A line given in chunks is written through, not buffered, once it passes this many characters. */
const MAX_BUFFERED_LINE_CHARS = 1024 * 1024;

export class ShuffledJsonlWriter {
  readonly path: string;
  #stream: WriteStream | null = null;
  #window: string[] = [];
  #windowChars = 0;
  readonly #windowSize: number;
  readonly #rng: Rng;
  #lines = 0;
  #bytes = 0;

  constructor(path: string, windowSize: number, rng: Rng) {
    this.path = path;
    this.#windowSize = windowSize;
    this.#rng = rng;
  }

  get lines(): number {
    return this.#lines;
  }

  get bytes(): number {
    return this.#bytes;
  }

  async write(value: unknown): Promise<void> {
    await this.#push(`${JSON.stringify(value)}\n`);
  }

  /** Writes one line given as chunks of its JSON text (concatenated, one JSON value; no newline in any chunk). */
  async writeChunks(chunks: Iterable<string>): Promise<void> {
    let pending: string[] = [];
    let chars = 0;
    let through = false;
    for (const chunk of chunks) {
      if (through) {
        await this.#append(chunk);
        continue;
      }
      pending.push(chunk);
      chars += chunk.length;
      if (chars > MAX_BUFFERED_LINE_CHARS) {
        through = true;
        await this.#flush();
        for (const part of pending) await this.#append(part);
        pending = [];
      }
    }
    if (!through) {
      await this.#push(`${pending.join('')}\n`);
      return;
    }
    await this.#append('\n');
    this.#lines++;
  }

  async #push(line: string): Promise<void> {
    this.#window.push(line);
    this.#windowChars += line.length;
    this.#lines++;
    if (this.#window.length >= this.#windowSize || this.#windowChars >= MAX_WINDOW_CHARS) await this.#flush();
  }

  async #append(chunk: string): Promise<void> {
    this.#stream ??= createWriteStream(this.path);
    this.#bytes += Buffer.byteLength(chunk);
    if (!this.#stream.write(chunk)) await once(this.#stream, 'drain');
  }

  async #flush(): Promise<void> {
    const lines = this.#window;
    this.#window = [];
    this.#windowChars = 0;
    if (lines.length === 0) return;
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(this.#rng() * (i + 1));
      const tmp = lines[i]!;
      lines[i] = lines[j]!;
      lines[j] = tmp;
    }
    await this.#append(lines.join(''));
  }

  /** Flushes and closes; answers the byte count, or null (and no file) when nothing was written. */
  async finish(): Promise<number | null> {
    await this.#flush();
    if (!this.#stream) return null;
    this.#stream.end();
    await once(this.#stream, 'finish');
    return this.#bytes;
  }

  /** Closes and removes whatever was written. */
  async discard(): Promise<void> {
    this.#window = [];
    this.#windowChars = 0;
    if (this.#stream) {
      this.#stream.destroy();
      this.#stream = null;
    }
    await rm(this.path, { force: true });
  }
}
