/**
 * What the simulator has seen, for tests to assert on: objects created, lines received, calls per operation, and for
 * every `custom_id` the batches whose *output* file answered it (a request answered by two batches was paid twice).
 */
import type { SimOperation } from './faults.js';

/** A snapshot of the counters (plain JSON). */
export interface SimCountersSnapshot {
  filesCreated: number;
  batchesCreated: number;
  /** Lines read from the input files of batches that passed the envelope checks or failed them. */
  linesReceived: number;
  /** Realtime chat completions answered 200. */
  chatCompletions: number;
  /** Of those, the ones asked with `service_tier: "flex"`. */
  flexCompletions: number;
  /** Calls per operation, rejected ones included. */
  requests: Partial<Record<SimOperation, number>>;
  /** Calls answered 429 by a fault or a limit. */
  rateLimited: number;
  /** Calls answered 5xx by a fault. */
  serverErrors: number;
  /** Output lines written, all batches. */
  outputLines: number;
  /** Error-file lines written, all batches. */
  errorLines: number;
  /** For each `custom_id`, the ids of the batches in whose output file it appeared, in order. */
  outputBatchesByCustomId: Record<string, string[]>;
  /** The `custom_id`s that appeared in the output of more than one batch. */
  customIdsAnsweredTwice: string[];
  /** The `custom_id`s answered at least once with an error line carrying a 4xx status (refused by the model). */
  customIdsRejected: string[];
}

export class SimCounters {
  #filesCreated = 0;
  #batchesCreated = 0;
  #linesReceived = 0;
  #chatCompletions = 0;
  #flexCompletions = 0;
  #requests = new Map<SimOperation, number>();
  #rateLimited = 0;
  #serverErrors = 0;
  #outputLines = 0;
  #errorLines = 0;
  #outputs = new Map<string, string[]>();
  #rejected = new Set<string>();

  request(op: SimOperation): void {
    this.#requests.set(op, (this.#requests.get(op) ?? 0) + 1);
  }
  rateLimited(): void {
    this.#rateLimited++;
  }
  serverError(): void {
    this.#serverErrors++;
  }
  fileCreated(): void {
    this.#filesCreated++;
  }
  batchCreated(): void {
    this.#batchesCreated++;
  }
  linesReceived(count: number): void {
    this.#linesReceived += count;
  }
  chatCompletion(flex = false): void {
    this.#chatCompletions++;
    if (flex) this.#flexCompletions++;
  }
  errorLine(customId: string, status: number | null): void {
    this.#errorLines++;
    if (status !== null && status >= 400 && status < 500) this.#rejected.add(customId);
  }
  outputLine(customId: string, batchId: string): void {
    this.#outputLines++;
    const batches = this.#outputs.get(customId);
    if (batches) batches.push(batchId);
    else this.#outputs.set(customId, [batchId]);
  }

  snapshot(): SimCountersSnapshot {
    const outputBatchesByCustomId: Record<string, string[]> = {};
    const customIdsAnsweredTwice: string[] = [];
    for (const [customId, batches] of this.#outputs) {
      outputBatchesByCustomId[customId] = [...batches];
      if (new Set(batches).size > 1) customIdsAnsweredTwice.push(customId);
    }
    return {
      filesCreated: this.#filesCreated,
      batchesCreated: this.#batchesCreated,
      linesReceived: this.#linesReceived,
      chatCompletions: this.#chatCompletions,
      flexCompletions: this.#flexCompletions,
      requests: Object.fromEntries(this.#requests),
      rateLimited: this.#rateLimited,
      serverErrors: this.#serverErrors,
      outputLines: this.#outputLines,
      errorLines: this.#errorLines,
      outputBatchesByCustomId,
      customIdsAnsweredTwice,
      customIdsRejected: [...this.#rejected],
    };
  }
}
