/** What every aggregate store of store.ts shares: the client with the script commands, the key space, the options. */
import type { KeySpace } from './keys.js';
import type { ScriptClient } from './lua.js';

export interface StoreOptions {
  /** Retention of terminal records. */
  retentionMs: number;
  /** Idempotency-Key lifetime. @defaultValue 24 h */
  idempotencyTtlMs?: number;
  maxAttempts: number;
}

export interface StoreContext {
  readonly redis: ScriptClient;
  readonly keys: KeySpace;
  readonly options: Required<StoreOptions>;
}

/** A flush job run's fencing token as the scripts take it: '' when not checked (tests and tools). */
export function fenceArg(fence: number | undefined): string {
  return fence === undefined ? '' : String(fence);
}
