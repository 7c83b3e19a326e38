/**
 * Holds requests that wait for their outcome (transparent mode, SPEC §8) in one ingest process. The outcome is settled
 * by another process, often on another replica; it announces each finished request id on a Redis pub/sub channel and
 * this waiter wakes the connections waiting for it. A notice can be missed (a reconnect, a crash between the state
 * change and the publish), so every waiting request is also re-read now and then — first after `firstRecheckMs`, then
 * at growing intervals up to `maxRecheckMs`, all due ones in one pipelined round trip — and every one of them right
 * after the subscriber reconnects. Notices come in bursts (one provider batch settles thousands of requests at once):
 * they are read `readBatch` at a time, one batch in flight, rather than all at once. Memory per waiter is one small
 * object and one timer, whatever the body size.
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
  /** Reads the records of `ids` (undefined when gone); one call per due batch. */
  read(ids: readonly string[]): Promise<ReadonlyArray<R | undefined>>;
  /** Whether a record is final (completed, failed, cancelled). */
  isFinal(record: R): boolean;
  firstRecheckMs?: number;
  maxRecheckMs?: number;
  /** Records read per round trip. */
  readBatch?: number;
  onError?: (error: unknown) => void;
}

interface Waiter<R> {
  id: string;
  resolve: (result: WaitResult<R>) => void;
  timer: NodeJS.Timeout;
  nextCheck: number;
  interval: number;
  onAbort: (() => void) | undefined;
  signal: AbortSignal | undefined;
}

export class OutcomeWaiter<R> {
  readonly #o: Required<Omit<OutcomeWaiterOptions<R>, 'onError'>> & Pick<OutcomeWaiterOptions<R>, 'onError'>;
  readonly #byId = new Map<string, Set<Waiter<R>>>();
  readonly #channels: ReadonlySet<string>;
  #sweep: NodeJS.Timeout | undefined;
  #sweeping = false;
  /** Ids announced and not yet read; `#draining` while a batch of them is being read. */
  readonly #noticed = new Set<string>();
  #draining = false;
  #closed = false;
  #started: Promise<void> | undefined;

  constructor(options: OutcomeWaiterOptions<R>) {
    this.#o = { firstRecheckMs: 1_000, maxRecheckMs: 15_000, readBatch: 500, ...options };
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
      this.#sweep = setInterval(() => void this.#recheckDue(), Math.min(250, this.#o.firstRecheckMs));
      this.#sweep.unref();
    })();
    return this.#started;
  }

  /** Waiting connections in this process. */
  get size(): number {
    let n = 0;
    for (const set of this.#byId.values()) n += set.size;
    return n;
  }

  /**
   * Resolves with the finished record of `id`, or `timeout` after `timeoutMs`, `aborted` when `signal` fires (the
   * client went away: nothing else changes), `closed` when the waiter closes (shutdown).
   */
  wait(id: string, timeoutMs: number, signal?: AbortSignal): Promise<WaitResult<R>> {
    if (this.#closed) return Promise.resolve({ kind: 'closed' });
    if (signal?.aborted) return Promise.resolve({ kind: 'aborted' });
    return new Promise<WaitResult<R>>((resolve) => {
      const waiter: Waiter<R> = {
        id,
        resolve: (result) => {
          clearTimeout(waiter.timer);
          if (waiter.onAbort) waiter.signal?.removeEventListener('abort', waiter.onAbort);
          const set = this.#byId.get(id);
          set?.delete(waiter);
          if (set?.size === 0) this.#byId.delete(id);
          resolve(result);
        },
        timer: setTimeout(() => waiter.resolve({ kind: 'timeout' }), Math.max(0, timeoutMs)),
        nextCheck: Date.now() + this.#o.firstRecheckMs,
        interval: this.#o.firstRecheckMs,
        onAbort: undefined,
        signal,
      };
      if (signal) {
        waiter.onAbort = () => waiter.resolve({ kind: 'aborted' });
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      let set = this.#byId.get(id);
      if (!set) {
        set = new Set();
        this.#byId.set(id, set);
      }
      set.add(waiter);
    });
  }

  /** Answers every waiter `closed` and unsubscribes; idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweep) clearInterval(this.#sweep);
    for (const set of [...this.#byId.values()]) for (const w of [...set]) w.resolve({ kind: 'closed' });
    await this.#o.subscriber.quit().catch(() => undefined);
  }

  #notice(id: string): void {
    if (!this.#byId.has(id)) return;
    // Ten thousand reads sent at once queue behind each other in Redis and on the connection until some pass the
    // command timeout (measured in S7, docs/benchmarks.md); ids noticed while a batch is read go into the next one.
    this.#noticed.add(id);
    if (!this.#draining) void this.#drainNotices();
  }

  async #drainNotices(): Promise<void> {
    this.#draining = true;
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
      this.#draining = false;
    }
  }

  #dueNow(ids: readonly string[]): void {
    const now = Date.now();
    for (const id of ids) for (const w of this.#byId.get(id) ?? []) w.nextCheck = Math.min(w.nextCheck, now);
  }

  #recheckAll(): void {
    void this.#check([...this.#byId.keys()]);
  }

  async #recheckDue(): Promise<void> {
    if (this.#sweeping || this.#byId.size === 0) return;
    this.#sweeping = true;
    try {
      const now = Date.now();
      const due: string[] = [];
      for (const [id, set] of this.#byId) {
        let isDue = false;
        for (const w of set) {
          if (w.nextCheck > now) continue;
          isDue = true;
          w.interval = Math.min(this.#o.maxRecheckMs, w.interval * 2);
          w.nextCheck = now + w.interval;
        }
        if (isDue) due.push(id);
      }
      await this.#check(due);
    } finally {
      this.#sweeping = false;
    }
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
      for (const [j, id] of slice.entries()) {
        const record = records[j];
        if (record === undefined || !this.#o.isFinal(record)) continue;
        const set = this.#byId.get(id);
        if (set) for (const w of [...set]) w.resolve({ kind: 'finished', record });
      }
    }
  }
}
