/**
 * Store: the one object the services hold, composing one store per aggregate — each in its own file, owning its keys
 * and scripts:
 *
 *   requests     request-store.ts   create, read, cancel, settle requests; record their delivery
 *   flushes      flush-store.ts     packing groups, claiming flushes, a flush's way to a provider batch
 *   batches      batch-store.ts     provider batches: polls and routing
 *   ledger       ledger.ts          tenant ledgers (cost per day, usage reports, budgets), estimated savings
 *   deliveries   deliveries.ts      outcome deliveries due and claimed (bulk claim, lease, bulk completion)
 *   deadLetters  dead-letters.ts    outcomes whose delivery gave up
 *   facade       facade-store.ts    the Batch API facade: uploaded files, batches of lines (SPEC §12)
 *   secrets      webhook-secrets.ts webhook secrets rotated through the API
 *   endpoints    endpoint-health.ts circuit and disabling per tenant callback host
 *   replays      replays.ts         time-range replay jobs and their progress
 *   aggregates   aggregates.ts      aggregated deliveries: buffers of outcomes per tenant and callback URL
 *   providers    provider-health.ts per-provider circuits (failover)
 *   lanes        lane-store.ts      deadlines and fast lanes: deadline index, lane claims, turnarounds, budgets
 *
 * Every read and write of their state goes through these (and so through the Lua scripts of `scripts/` for anything
 * that changes a state). Services never build keys themselves.
 */
import type { Cluster, Redis } from 'ioredis';
import { Aggregates } from './aggregates.js';
import { BatchStore } from './batch-store.js';
import { DeadLetters } from './dead-letters.js';
import { Deliveries } from './deliveries.js';
import { EndpointHealth } from './endpoint-health.js';
import { FacadeStore } from './facade-store.js';
import { FlushStore } from './flush-store.js';
import type { KeySpace } from './keys.js';
import { LaneStore } from './lane-store.js';
import { Ledger } from './ledger.js';
import { defineScripts } from './lua.js';
import { ProviderHealthStore } from './provider-health.js';
import { ReplayJobs } from './replays.js';
import { RequestStore } from './request-store.js';
import type { StoreContext, StoreOptions } from './store-context.js';
import { WebhookSecrets } from './webhook-secrets.js';

export class Store {
  readonly keys: KeySpace;
  readonly requests: RequestStore;
  readonly flushes: FlushStore;
  readonly batches: BatchStore;
  readonly ledger: Ledger;
  readonly deadLetters: DeadLetters;
  readonly deliveries: Deliveries;
  readonly facade: FacadeStore;
  readonly secrets: WebhookSecrets;
  readonly endpoints: EndpointHealth;
  readonly replays: ReplayJobs;
  readonly lanes: LaneStore;
  readonly aggregates: Aggregates;
  /** Per-provider circuits (SPEC §11); the thresholds come from the configuration (`withSettings`). */
  providers: ProviderHealthStore;

  constructor(redis: Redis | Cluster, keys: KeySpace, options: StoreOptions) {
    this.keys = keys;
    const { confirmWrites, ...rest } = options;
    const ctx: StoreContext = {
      redis: defineScripts(redis),
      keys,
      options: { idempotencyTtlMs: 86_400_000, ledgerDays: 92, ...rest },
      confirm: confirmWrites ?? (async () => undefined),
      confirming: confirmWrites !== undefined,
    };
    this.requests = new RequestStore(ctx);
    this.flushes = new FlushStore(ctx);
    this.batches = new BatchStore(ctx);
    this.ledger = new Ledger(ctx);
    this.deadLetters = new DeadLetters(ctx);
    this.deliveries = new Deliveries(ctx);
    this.facade = new FacadeStore(ctx);
    this.secrets = new WebhookSecrets(ctx);
    this.endpoints = new EndpointHealth(ctx);
    this.replays = new ReplayJobs(ctx);
    this.lanes = new LaneStore(ctx);
    this.aggregates = new Aggregates(ctx);
    this.providers = new ProviderHealthStore(ctx, options.circuit);
  }
}
