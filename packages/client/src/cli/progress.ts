/** A one-line progress display on stderr: count, percentage, rate and ETA; redrawn in place on a terminal, else a line every few seconds. */
export class Progress {
  readonly #label: string;
  readonly #total: number;
  readonly #tty: boolean;
  readonly #started = Date.now();
  readonly #quiet: boolean;
  #done = 0;
  #extra = '';
  #lastDraw = 0;
  #drawn = false;

  constructor(label: string, total: number, options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}) {
    this.#label = label;
    this.#total = total;
    this.#quiet = options.quiet ?? false;
    this.#tty = (options.stream ?? process.stderr).isTTY === true;
  }

  /** Sets how many are done (of the total) and a suffix (e.g. counts by status). */
  update(done: number, extra = ''): void {
    this.#done = done;
    this.#extra = extra;
    const now = Date.now();
    if (now - this.#lastDraw >= (this.#tty ? 100 : 2_000)) this.#draw(now);
  }

  /** Draws the last state and ends the line. */
  finish(): void {
    if (this.#quiet) return;
    this.#draw(Date.now());
    if (this.#tty && this.#drawn) process.stderr.write('\n');
  }

  line(): string {
    const elapsedS = Math.max(0.001, (Date.now() - this.#started) / 1000);
    const rate = this.#done / elapsedS;
    const left = this.#total - this.#done;
    const pct = this.#total === 0 ? 100 : Math.floor((this.#done / this.#total) * 100);
    const eta = rate > 0 && left > 0 ? formatS(left / rate) : left === 0 ? '0s' : '?';
    const width = 24;
    const filled = this.#total === 0 ? width : Math.round((this.#done / this.#total) * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    return `${this.#label} ${bar} ${this.#done}/${this.#total} ${pct}% ${rate.toFixed(rate < 10 ? 1 : 0)}/s ETA ${eta}${this.#extra ? ` ${this.#extra}` : ''}`;
  }

  #draw(now: number): void {
    if (this.#quiet) return;
    this.#lastDraw = now;
    this.#drawn = true;
    if (this.#tty) process.stderr.write(`\r\x1b[2K${this.line()}`);
    else process.stderr.write(`${this.line()}\n`);
  }
}

export function formatS(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
