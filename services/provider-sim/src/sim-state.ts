/**
 * The mutable state one simulator instance shares between its HTTP handlers and its batch runner.
 */
import type { Logger } from '@batchbridge/logger';
import type { SimCounters } from './counters.js';
import type { SimFaults } from './faults.js';
import type { SimTimings } from './options.js';
import type { SimProfile } from './profiles.js';
import type { Rng } from './rng.js';
import type { SimStore } from './store.js';
import type { WebhookPusher } from './webhook-pusher.js';

export interface SimState {
  readonly profile: SimProfile;
  readonly models: readonly string[];
  readonly maxLines: number;
  readonly maxBytes: number;
  readonly uploadMaxBytes: number;
  readonly timings: SimTimings;
  readonly shuffleWindow: number;
  /** null: any non-empty key is accepted. */
  readonly apiKeys: ReadonlySet<string> | null;
  readonly adminKey: string | null;
  readonly logger: Logger;
  readonly store: SimStore;
  readonly initialFaults: SimFaults;
  readonly seed: number;
  faults: SimFaults;
  counters: SimCounters;
  rng: Rng;
  /** Batch webhooks (SPEC §13), set once the state is built. */
  pusher?: WebhookPusher;
}
