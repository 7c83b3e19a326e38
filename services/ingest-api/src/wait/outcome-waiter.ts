/**
 * Holds requests that wait for their outcome (transparent mode, SPEC §8) in one ingest process. The outcome is settled
 * by another process, often on another replica; it announces each finished request id on a Redis pub/sub channel and
 * this waiter wakes the connections waiting for it. A notice can be missed (a reconnect, a crash between the state
 * change and the publish), so every waiting request is also re-read now and then — first after `firstRecheckMs`, then
 * at growing intervals up to `maxRecheckMs`, all due ones in one pipelined round trip — and every one of them right
 * after the subscriber reconnects. Notices come in bursts (one provider batch settles thousands of requests at once):
 * they are read `readBatch` at a time, one read in flight (`readsInFlight`), rather than all at once; one notice may name many ids
 * (space-separated: the Lua scripts announce all the requests one call finished in one message). Memory per waiter is
 * one small object, whatever the body size: no timer, promise or AbortSignal of its own — the deadlines are kept by
 * the same sweep that runs the re-reads (every 250 ms), and a caller stops a wait with the handle `hold` returns.
 * 10 000 waiters cost a few hundred KB here (S7 in docs/benchmarks.md).
 */

/** A finished request as the waiter hands it back (the caller's own record type). */
export interface Finished<R> {
  kind: 'finished';
  record: R;
}

export type WaitResult<R> = Finished<R> | { kind: 'timeout' } | { kind: 'aborted' } | { kind: 'closed' };

/** The part of an ioredis client (Redis or Cluster) the waiter subscribes with: a connection of its own. */
export interface Subscriber {
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  quit(): Promise<unknown>;
}

export interface OutcomeWaiterOptions<R> {
  subscriber: Subscriber;
  /** The channels finished request ids are announced on (one per partition). */
  channels: readonly string[];
  /** Reads the records of `ids` (undefined when gone); one call per due batch (at most `readBatch` ids). */
  read(ids: readonly string[]): Promise<ReadonlyArray<R | undefined>>;
  /** Whether a record is final (completed, failed, cancelled). */
  isFinal(record: R): boolean;
  firstRecheckMs?: number;
  maxRecheckMs?: number;
  /** Records read per round trip. */
  readBatch?: number;
  /**
   * Reads of announced ids in flight at once. @defaultValue 1 — two did not answer a burst sooner in S7 (the
   * answering is CPU-bound; a read's round trip is a few ms of the second it takes).
   */
  readsInFlight?: number;
  onError?: (error: unknown) => void;
}

/** A wait in progress: `cancel()` ends it without an answer (the client went away). */
export interface WaitHandle {
  cancel(): void;
}

interface Waiter<R> {
  id: string;
  done: ((result: WaitResult<R>) => void) | undefined;
  /** When the wait runs out (ms since the epoch). */
  deadline: number;
  nextCheck: number;
  interval: number;
  /** The next waiter for the same id (several connections may wait for one request). */
  next: Waiter<R> | undefined;
}

export class OutcomeWaiter<R> {
  readonly #o: Required<Omit<OutcomeWaiterOptions<R>, 'onError'>> & Pick<OutcomeWaiterOptions<R>, 'onError'>;
  /** The first waiter of each id; the others hang off its `next`. */
  readonly #byId = new Map<string, Waiter<R>>();
  readonly #channels: ReadonlySet<string>;
  #size = 0;
  #sweep: NodeJS.Timeout | undefined;
  #sweeping = false;
  /** Ids announced and not yet read; `#draining`: readers of them at work (at most `readsInFlight`). */
  readonly #noticed = new Set<string>();
  #draining = 0;
  #closed = false;
  #started: Promise<void> | undefined;

  constructor(options: OutcomeWaiterOptions<R>) {
    this.#o = { firstRecheckMs: 1_000, maxRecheckMs: 15_000, readBatch: 500, readsInFlight: 1, ...options };
    this.#channels = new Set(options.channels);
  }

  /** Subscribes; idempotent. Waiting before it resolves is fine: the first recheck covers the gap. */
  start(): Promise<void> {
    this.#started ??= (async () => {
      this.#o.subscriber.on('message', (channel, message) => {
        if (this.#channels.has(channel)) this.#notice(message);
      });
      // After a reconnect ioredis subscribes again by itself; what was announced meanwhile is lost, so look now.
      this.#o.subscriber.on('ready', () => this.#recheckAll());
      await this.#o.subscriber.subscribe(...this.#o.channels);
      this.#sweep = setInterval(() => this.#tick(), Math.min(250, this.#o.firstRecheckMs));
      this.#sweep.unref();
    })();
    return this.#started;
  }

  /** Waiting connections in this process. */
  get size(): number {
    return this.#size;
  }

  /**
   * Calls `done` once: with the finished record of `id`, `timeout` once `timeoutMs` passed (at the next sweep),
   * `closed` when the waiter closes (shutdown) — or never, after `cancel()` (the client went away: nothing else
   * changes). `done` may run synchronously (when the waiter is closed already).
   */
  hold(id: string, timeoutMs: number, done: (result: WaitResult<R>) => void): WaitHandle {
    if (this.#closed) {
      done({ kind: 'closed' });
      return { cancel: () => undefined };
    }
    const now = Date.now();
    const waiter: Waiter<R> = {
      id,
      done,
      deadline: now + Math.max(0, timeoutMs),
      nextCheck: now + this.#o.firstRecheckMs,
      interval: this.#o.firstRecheckMs,
      next: this.#byId.get(id),
    };
    this.#byId.set(id, waiter);
    this.#size += 1;
    return { cancel: () => this.#remove(waiter) };
  }

  /** `hold` as a promise; `signal` aborting answers `aborted`. */
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult<R>> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    if (signal?.aborted) return Promise.resolve({ kind: 'aborted' });
    return new Promise<WaitResult<R>>((resolve) => {
      const onAbort = () => {
        handle.cancel();
        resolve({ kind: 'aborted' });
      };
      const handle = this.hold(id, timeoutMs, (result) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Answers every waiter `closed` and unsubscribes; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    for (const first of [...this.#byId.values()]) this.#settle(first.id, { kind: 'closed' });
    await this.#o.subscriber.quit().catch(() => undefined);
  }

  /** Takes `waiter` out (once); answers it `result` unless that is undefined. */
  #remove(waiter: Waiter<R>, result?: WaitResult<R>): void {
    const done = waiter.done;
    if (done === undefined) return;
    waiter.done = undefined;
    this.#size -= 1;
    let w = this.#byId.get(waiter.id);
    if (w === waiter) {
      if (waiter.next) this.#byId.set(waiter.id, waiter.next);
      else this.#byId.delete(waiter.id);
    } else {
      while (w && w.next !== waiter) w = w.next;
      if (w) w.next = waiter.next;
    }
    if (result) done(result);
  }

  /** Answers every waiter of `id`. */
  #settle(id: string, result: WaitResult<R>): void {
    let w = this.#byId.get(id);
    this.#byId.delete(id);
    while (w) {
      const next = w.next;
      const done = w.done;
      if (done) {
        w.done = undefined;
        this.#size -= 1;
        done(result);
      }
      w = next;
    }
  }

  #notice(message: string): void {
    // One message names every request one script call finished, space-separated.
    let start = 0;
    for (;;) {
      const end = message.indexOf(' ', start);
      const id = end < 0 ? message.slice(start) : message.slice(start, end);
      // Ten thousand reads sent at once queue behind each other in Redis and on the connection until some pass the
      // command timeout (measured in S7, docs/benchmarks.md); ids noticed while a batch is read go into the next one.
      if (id !== '' && this.#byId.has(id)) this.#noticed.add(id);
      if (end < 0) break;
      start = end + 1;
    }
    // With `readsInFlight` > 1, a second reader while the first one's read is in flight.
    while (this.#noticed.size > 0 && this.#draining < this.#o.readsInFlight) {
      const before = this.#draining;
      void this.#drainNotices();
      if (this.#draining === before) break;
    }
  }

  /** One reader of the announced ids; up to `readsInFlight` run at once, each with one read in flight. */
  async #drainNotices(): Promise<void> {
    this.#draining += 1;
    try {
      while (this.#noticed.size > 0 && !this.#closed) {
        const ids: string[] = [];
        for (const id of this.#noticed) {
          ids.push(id);
          if (ids.length >= this.#o.readBatch) break;
        }
        for (const id of ids) this.#noticed.delete(id);
        await this.#check(ids, true);
      }
    } finally {
      this.#draining -= 1;
    }
  }

  #dueNow(ids: readonly string[]): void {
    const now = Date.now();
    for (const id of ids) for (let w = this.#byId.get(id); w; w = w.next) w.nextCheck = Math.min(w.nextCheck, now);
  }

  #recheckAll(): void {
    void this.#check([...this.#byId.keys()]);
  }

  /** One pass over the waiters: the timed-out are answered, the due are re-read (one read in flight at a time). */
  #tick(): void {
    if (this.#byId.size === 0) return;
    const now = Date.now();
    const expired: Array<Waiter<R>> = [];
    const due: string[] = [];
    const collect = !this.#sweeping;
    for (const [id, first] of this.#byId) {
      let isDue = false;
      for (let w: Waiter<R> | undefined = first; w; w = w.next) {
        if (w.deadline <= now) {
          expired.push(w);
          continue;
        }
        if (!collect || w.nextCheck > now) continue;
        isDue = true;
        w.interval = Math.min(this.#o.maxRecheckMs, w.interval * 2);
        w.nextCheck = now + w.interval;
      }
      if (isDue) due.push(id);
    }
    for (const w of expired) this.#remove(w, { kind: 'timeout' });
    if (due.length === 0) return;
    this.#sweeping = true;
    void this.#check(due).finally(() => {
      this.#sweeping = false;
    });
  }

  /** Reads `ids` and wakes the finished; `noticed`: they were announced, so a failed read is tried again soon. */
  async #check(ids: readonly string[], noticed = false): Promise<void> {
    for (let i = 0; i < ids.length; i += this.#o.readBatch) {
      const slice = ids.slice(i, i + this.#o.readBatch);
      let records: ReadonlyArray<R | undefined>;
      try {
        records = await this.#o.read(slice);
      } catch (error) {
        // Redis is away or slow: the next recheck tries again; the waits time out meanwhile as they would anyway. An
        // announced outcome is most likely final: due at the next sweep, not at its waiters' backed-off time (up to
        // `maxRecheckMs` for a request that has waited long).
        this.#o.onError?.(error);
        if (noticed) this.#dueNow(ids.slice(i));
        return;
      }
      // All the answers of one read are written in this one synchronous pass.
      for (const [j, id] of slice.entries()) {
        const record = records[j];
        if (record === undefined || !this.#o.isFinal(record)) continue;
        this.#settle(id, { kind: 'finished', record });
      }
    }
  }
}
