/** What every aggregate store of store.ts shares: the client with the script commands, the key space, the options. */
import type { KeySpace } from './keys.js';
import type { ScriptClient } from './lua.js';

export interface StoreOptions {
  /** Retention of terminal records. */
  retentionMs: number;
  /** Idempotency-Key lifetime. @defaultValue 24 h */
  idempotencyTtlMs?: number;
  maxAttempts: number;
  /** Days a tenant ledger keeps per day before rolling them up into months (SPEC §15). @defaultValue 92 */
  ledgerDays?: number;
  /** Provider circuits: consecutive failures that open one, cool-down before a probe. @defaultValue 5, 60 s */
  circuit?: { failures: number; cooldownMs: number };
  /**
   * Resolves once the writes this client made so far are durable as REDIS_DURABILITY asks (SPEC §18: `WAIT 1` in
   * `replica` mode), else rejects. Called after each write that an answer or a provider call relies on: enqueue
   * (before the 202), create-started (before `batches.create`), the submission record, settle (before delivery).
   * @defaultValue resolves at once
   */
  confirmWrites?: () => Promise<void>;
}

export interface StoreContext {
  readonly redis: ScriptClient;
  readonly keys: KeySpace;
  readonly options: Required<Omit<StoreOptions, 'confirmWrites' | 'circuit'>> & Pick<StoreOptions, 'circuit'>;
  /** See `StoreOptions.confirmWrites`. */
  readonly confirm: () => Promise<void>;
  /** Whether `confirm` does anything (the intake path skips the extra step when it does not). */
  readonly confirming: boolean;
}

/** A flush job run's fencing token as the scripts take it: '' when not checked (tests and tools). */
export function fenceArg(fence: number | undefined): string {
  return fence === undefined ? '' : String(fence);
}
