/**
 * Starts one simulator: an HTTP server on `host:port` serving `/v1` (the provider API) and `/_sim` (admin), with its
 * files under a private directory that `close()` removes.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@batchbridge/logger';
import { createApp } from './app.js';
import { BatchRunner } from './batch-runner.js';
import { SimCounters, type SimCountersSnapshot } from './counters.js';
import { FaultGate } from './fault-gate.js';
import { mergeFaults, noFaults, type SimFaults, type SimFaultsInput } from './faults.js';
import { DEFAULT_TIMINGS, type ProviderSimOptions, providerSimOptionsSchema } from './options.js';
import { PROFILES, type ProfileName } from './profiles.js';
import { createRng } from './rng.js';
import type { SimState } from './sim-state.js';
import { SimStore } from './store.js';
import { type SimWebhookStats, type SimWebhookTarget, WebhookPusher } from './webhook-pusher.js';

export interface ProviderSim {
  /** Base URL of the provider API, ending in `/v1` (give it to the openai SDK as `baseURL`). */
  readonly url: string;
  /** Base URL of the admin API (`…/_sim`). */
  readonly adminUrl: string;
  readonly port: number;
  readonly profile: ProfileName;
  /** Directory holding this instance's files. */
  readonly dataDir: string;
  /** Stops the server and every batch run, removes the files. Idempotent. */
  close(): Promise<void>;
  /** Merges a partial fault update into the current faults (per-operation maps merge by key) and answers the result. */
  setFaults(update: SimFaultsInput): SimFaults;
  /** Switches every fault off. */
  clearFaults(): SimFaults;
  getFaults(): SimFaults;
  counters(): SimCountersSnapshot;
  /** Forgets all files, batches and counters, restores the start faults and the seed. */
  reset(): Promise<void>;
  /** Where batch webhooks go from now on (SPEC §13), or none. */
  setWebhook(target: SimWebhookTarget | null): void;
  /** What the batch webhooks did so far. */
  webhookStats(): SimWebhookStats;
}

function definedOnly<T extends object>(value: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

export async function createProviderSim(options: ProviderSimOptions = {}): Promise<ProviderSim> {
  const { logger: givenLogger, faults: startFaults, ...rest } = options;
  const opts = providerSimOptionsSchema.parse(rest);
  const logger = givenLogger ?? silentLogger();
  const profile = PROFILES[opts.profile];
  const baseDir = opts.dataDir ?? tmpdir();
  await mkdir(baseDir, { recursive: true });
  const dataDir = await mkdtemp(join(baseDir, 'provider-sim-'));
  const store = new SimStore(dataDir);
  await mkdir(store.filesDir, { recursive: true });

  const initialFaults = mergeFaults(noFaults(), startFaults ?? {});
  const state: SimState = {
    profile,
    models: opts.models ?? profile.models,
    maxLines: opts.maxLines ?? profile.maxLines,
    maxBytes: opts.maxBytes ?? profile.maxBytes,
    uploadMaxBytes: opts.uploadMaxBytes,
    timings: { ...DEFAULT_TIMINGS, ...definedOnly(opts.timings) },
    shuffleWindow: opts.shuffleWindow,
    apiKeys: opts.apiKeys ? new Set(opts.apiKeys) : null,
    adminKey: opts.adminKey ?? null,
    logger,
    store,
    initialFaults,
    seed: opts.seed,
    faults: initialFaults,
    counters: new SimCounters(),
    rng: createRng(opts.seed),
  };
  const pusher = new WebhookPusher(state, opts.webhook ?? null);
  state.pusher = pusher;
  const gate = new FaultGate(state);
  const runner = new BatchRunner(state);
  let closing = new AbortController();

  const setFaults = (update: unknown): SimFaults => {
    state.faults = mergeFaults(state.faults, update);
    logger.info({ faults: state.faults }, 'faults updated');
    return state.faults;
  };
  const clearFaults = (): SimFaults => {
    state.faults = noFaults();
    return state.faults;
  };
  const reset = async (): Promise<void> => {
    closing.abort();
    await runner.close();
    await pusher.close();
    pusher.reset();
    closing = new AbortController();
    await store.clear();
    state.counters = new SimCounters();
    state.faults = initialFaults;
    state.rng = createRng(state.seed);
    gate.reset();
  };

  const app = createApp({
    state,
    gate,
    runner,
    closing: () => closing.signal,
    admin: {
      adminKey: state.adminKey,
      getFaults: () => state.faults,
      setFaults,
      clearFaults,
      counters: () => state.counters.snapshot(),
      reset,
    },
  });

  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  const origin = `http://${hostForUrl}:${port}`;
  logger.info({ url: `${origin}/v1`, profile: profile.name }, 'provider simulator listening');

  let closed: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      const errors: unknown[] = [];
      const step = async (fn: () => Promise<unknown> | unknown) => {
        try {
          await fn();
        } catch (err) {
          errors.push(err);
        }
      };
      closing.abort();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await step(() => serverClosed);
      await step(() => runner.close());
      await step(() => pusher.close());
      await step(() => rm(dataDir, { recursive: true, force: true }));
      if (errors.length > 0) throw new AggregateError(errors, 'provider simulator did not close cleanly');
    })();
    return closed;
  };

  return {
    url: `${origin}/v1`,
    adminUrl: `${origin}/_sim`,
    port,
    profile: profile.name,
    dataDir,
    close,
    setFaults: (update) => setFaults(update),
    clearFaults,
    getFaults: () => state.faults,
    counters: () => state.counters.snapshot(),
    reset,
    setWebhook: (target) => pusher.setTarget(target),
    webhookStats: () => pusher.stats(),
  };
}
