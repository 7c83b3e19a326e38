/**
 * Writes JSONL lines to disk in shuffled order, like real providers whose output order does not follow the input.
 * Lines are shuffled within windows of a bounded size, so memory does not grow with the batch.
 */

import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Rng } from './rng.js';

export class ShuffledJsonlWriter {
  readonly path: string;
  #stream: WriteStream | null = null;
  #window: string[] = [];
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
    this.#window.push(`${JSON.stringify(value)}\n`);
    this.#lines++;
    if (this.#window.length >= this.#windowSize) await this.#flush();
  }

  async #flush(): Promise<void> {
    const lines = this.#window;
    this.#window = [];
    if (lines.length === 0) return;
    for (let i = lines.length - 1; i > 0; i--) {
      const j = Math.floor(this.#rng() * (i + 1));
      const tmp = lines[i]!;
      lines[i] = lines[j]!;
      lines[j] = tmp;
    }
    this.#stream ??= createWriteStream(this.path);
    const chunk = lines.join('');
    this.#bytes += Buffer.byteLength(chunk);
    if (!this.#stream.write(chunk)) await once(this.#stream, 'drain');
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
    if (this.#stream) {
      this.#stream.destroy();
      this.#stream = null;
    }
    await rm(this.path, { force: true });
  }
}
