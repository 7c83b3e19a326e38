/** What every aggregate store of store.ts shares: the client with the script commands, the key space, the options. */
import type { KeySpace } from './keys.js';
import type { ScriptClient } from './lua.js';

export interface StoreOptions {
  /** Retention of terminal records. */
  retentionMs: number;
  /** Idempotency-Key lifetime. @defaultValue 24 h */
  idempotencyTtlMs?: number;
  maxAttempts: number;
  /** Provider circuits: consecutive failures that open one, cool-down before a probe. @defaultValue 5, 60 s */
  circuit?: { failures: number; cooldownMs: number };
}

export interface StoreContext {
  readonly redis: ScriptClient;
  readonly keys: KeySpace;
  readonly options: Required<Omit<StoreOptions, 'circuit'>> & Pick<StoreOptions, 'circuit'>;
}

/** A flush job run's fencing token as the scripts take it: '' when not checked (tests and tools). */
export function fenceArg(fence: number | undefined): string {
  return fence === undefined ? '' : String(fence);
}
