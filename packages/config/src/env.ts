/**
 * The environment of SPEC §5, validated with zod. Every service reads the same names; `parseConfig` is called from a
 * service's `main`, never at import, and reports every problem at once, one line each, naming the variable.
 */

import { readFileSync } from 'node:fs';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { parseDuration, parseDurationList } from './duration.js';
import { LANES, type Lane } from './price-table.js';
import {
  BATCH_ENDPOINTS,
  type BatchEndpoint,
  type EndpointLimits,
  PROVIDER_PROFILE_NAMES,
  PROVIDER_PROFILES,
  type ProviderProfile,
  type ProviderProfileName,
  UNBOUNDED_INPUTS,
} from './provider-profiles.js';
import { DEFAULT_PROVIDER_ID, type ProviderConfig, parseProviders } from './providers.js';
import { parseTenants } from './tenants.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `expected a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no'], { error: 'expected true or false' }))
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const duration = z
  .string()
  .refine((v) => parseDuration(v) !== undefined, 'expected a duration such as 500ms, 5s, 30m, 2h or 7d')
  .transform((v) => parseDuration(v) ?? 0);

const durationList = z
  .string()
  .refine(
    (v) => (parseDurationList(v)?.length ?? 0) > 0,
    'expected comma-separated durations such as 5s,5m,30m,2h (units ms, s, m, h, d)',
  )
  .transform((v) => parseDurationList(v) ?? []);

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an absolute http(s) URL');

const cidrList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .refine(
    // The parser the webhook address policy uses, so that what passes here cannot fail there (10.0.0.0/33).
    (list) =>
      list.every((c) => {
        try {
          ipaddr.parseCIDR(c);
          return true;
        } catch {
          return false;
        }
      }),
    'expected comma-separated CIDRs such as 127.0.0.0/8,::1/128',
  );

const EnvSchema = z.object({
  REDIS_URL: z
    .string()
    .trim()
    .refine(
      (v) => v.split(',').every((s) => /^rediss?:\/\//.test(s.trim())),
      'expected redis://host:port (several comma-separated seed nodes in cluster mode)',
    )
    .optional(),
  REDIS_MODE: z
    .enum(['standalone', 'cluster', 'sentinel'], { error: 'expected standalone, cluster or sentinel' })
    .default('standalone'),
  REDIS_SENTINELS: z
    .string()
    .trim()
    .refine(
      (v) => v.split(',').every((s) => /^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(s.trim())),
      'expected comma-separated host:port pairs such as 10.0.0.1:26379,10.0.0.2:26379',
    )
    .optional(),
  REDIS_SENTINEL_MASTER: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected the master name of the Sentinel configuration, such as mymaster')
    .optional(),
  REDIS_DURABILITY: z.enum(['none', 'replica', 'fsync'], { error: 'expected none, replica or fsync' }).default('none'),
  REDIS_DURABILITY_TIMEOUT_MS: int(10, 60_000).default(1_000),
  REDIS_PARTITIONS: int(1, 1024).optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,32}$/, 'expected 1–32 letters, digits, _ or -')
    .default('bb'),
  REDIS_ALLOW_EVICTION: bool.default(false),
  REDIS_DATA_DIR: z.string().default('.data/redis'),

  UPSTREAM_BASE_URL: httpUrl.optional(),
  UPSTREAM_API_KEY: z.string().min(1).optional(),
  UPSTREAM_TIMEOUT_MS: int(100, 3_600_000).default(60_000),
  PROVIDER_PROFILE: z
    .enum(PROVIDER_PROFILE_NAMES, { error: `expected one of ${PROVIDER_PROFILE_NAMES.join(', ')}` })
    .default('openai'),
  /** Signing secret of the `default` provider's own batch webhooks (SPEC §13, `POST /v1/provider-events/default`). */
  UPSTREAM_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** Several providers at once (SPEC §11, providers.ts); `UPSTREAM_*` is then ignored. */
  PROVIDERS_FILE: z.string().min(1).optional(),
  /** Consecutive failed provider calls (uploads, creates, polls, downloads) that open a provider's circuit. */
  PROVIDER_CIRCUIT_FAILURES: int(1, 1_000).default(5),
  /** How long an open circuit skips the provider for new flushes before one probe is let through. */
  PROVIDER_CIRCUIT_COOLDOWN: duration.default(60_000),

  HOST: z.string().default('127.0.0.1'),
  PORT: int(0, 65_535).default(8080),
  METRICS_PORT: int(0, 65_535).optional(),
  TENANTS_FILE: z.string().min(1).optional(),
  ADMIN_KEY: z.string().min(16, 'expected at least 16 characters').optional(),
  PRICE_TABLE_FILE: z.string().min(1).optional(),
  MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  GLOBAL_MAX_QUEUED: int(1).default(5_000_000),
  RESULT_RETENTION: duration.default(7 * 86_400_000),
  IDEMPOTENCY_TTL: duration.default(86_400_000),
  MAX_WAIT_S: int(0, 86_400).default(900),

  BATCH_MAX_REQUESTS: int(1).optional(),
  BATCH_MAX_BYTES: int(1024).optional(),
  BATCH_MAX_TOKENS: int(1).optional(),
  BATCH_MAX_WAIT_MS: int(0).default(60_000),
  BATCH_MIX_MODELS: bool.default(false),
  COMPLETION_WINDOW: z
    .string()
    .regex(/^\d+[hd]$/, 'expected hours or days such as 24h or 7d')
    .default('24h'),

  /** Batch API facade (SPEC §12): most lines per uploaded file (4 base-36 characters of a line's request id). */
  FACADE_MAX_LINES: int(1, 36 ** 4 - 1).default(1_000_000),
  FACADE_MAX_FILE_BYTES: int(1024, 16 * 1024 ** 3).default(2 * 1024 ** 3),
  /** The longest `completion_window` a batch may ask for (any duration up to it is accepted). */
  FACADE_MAX_WINDOW: duration.default(7 * 86_400_000),

  POLL_INTERVAL_MS: int(10).default(5_000),
  POLL_MAX_INTERVAL_MS: int(10).default(60_000),
  /** The poll cap for batches of a provider that pushes its batch events (SPEC §13): polling is only the backstop. */
  POLL_MAX_INTERVAL_MS_PUSH: int(10).default(300_000),
  MAX_ATTEMPTS: int(1, 100).default(3),
  DELETE_PROVIDER_FILES: bool.default(true),

  WEBHOOK_TIMEOUT_MS: int(100, 300_000).default(15_000),
  WEBHOOK_RETRY_SCHEDULE: durationList.prefault(['5s', '5m', '30m', '2h', '5h', '10h', '14h', '20h', '24h'].join(',')),
  WEBHOOK_ALLOW_CIDRS: cidrList.default([]),
  WEBHOOK_CONCURRENCY: int(1, 10_000).default(64),
  WEBHOOK_HOST_CONCURRENCY: int(1, 10_000).default(8),
  /** Unset: max(WEBHOOK_HOST_CONCURRENCY, half of WEBHOOK_CONCURRENCY), computed in parseConfig. */
  WEBHOOK_TENANT_CONCURRENCY: int(1, 10_000).optional(),
  /** How long the previous secret keeps signing after `POST /v1/webhook-secret/rotate` (SPEC §16). */
  WEBHOOK_SECRET_OVERLAP: duration.default(86_400_000),
  /** Consecutive failed attempts to one callback host that open its circuit (deliveries there wait, not fail). */
  WEBHOOK_CIRCUIT_FAILURES: int(1, 1_000_000).default(5),
  /** How long an open circuit waits before one probe delivery is let through. */
  WEBHOOK_CIRCUIT_COOLDOWN: duration.default(30_000),
  /** An endpoint failing (no success) for this long is disabled: its outcomes are dead-lettered (SPEC §16). */
  WEBHOOK_DISABLE_AFTER: duration.default(5 * 86_400_000),
  /** Attempts kept per outcome in its delivery log (`GET /v1/requests/{id}/deliveries`). */
  WEBHOOK_LOG_ATTEMPTS: int(1, 1_000).default(20),

  /**
   * Deadlines and lanes (SPEC §10): the lanes of the `UPSTREAM_*` provider (`batch`, `flex`, `realtime`; unset:
   * batch and realtime, plus flex where the profile has it) and its realtime/flex budget, shared by every replica.
   */
  UPSTREAM_LANES: z
    .string()
    .refine(
      (v) => v.split(',').every((l) => (LANES as readonly string[]).includes(l.trim())),
      'expected a comma-separated list of batch, flex, realtime',
    )
    .optional(),
  REALTIME_RPM: int(1, 10_000_000).optional(),
  REALTIME_TPM: int(1, 1_000_000_000).optional(),
  REALTIME_CONCURRENCY: int(1, 100_000).optional(),
  /** Added to every expected batch completion before it is compared with a deadline. */
  DEADLINE_MARGIN: duration.default(30_000),
  /** The batch turnaround assumed until some batches were observed. @defaultValue the profile's */
  BATCH_TURNAROUND: duration.optional(),
  /** How often queued requests with a deadline are looked at again. */
  DEADLINE_PASS_MS: int(50, 600_000).default(1_000),
  /**
   * Whether the scheduler may cancel a live provider batch whose share of requests expected to miss their deadline
   * passes ESCALATE_CANCEL_AT_RISK_SHARE (SPEC §10): the answered lines are taken from its partial output, the others
   * go to a faster lane once the cancel is confirmed.
   */
  ESCALATE_CANCEL_BATCHES: bool.default(false),
  ESCALATE_CANCEL_AT_RISK_SHARE: z.coerce.number().gt(0).max(1).default(0.5),

  METRICS_TOKEN: z.string().min(1).optional(),
  METRICS_TENANT_LABEL: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_PRETTY: bool.default(false),
});

export type Env = z.infer<typeof EnvSchema>;

/** Every environment variable batchbridge reads (SPEC §5 and the extras documented in the README). */
export const CONFIG_ENV_NAMES: readonly string[] = Object.keys(EnvSchema.shape);

export interface Config {
  redis: {
    url: string | undefined;
    mode: 'standalone' | 'cluster' | 'sentinel';
    /** `REDIS_MODE=sentinel`: the Sentinels and the master name they watch. */
    sentinels: Array<{ host: string; port: number }>;
    sentinelMaster: string | undefined;
    /**
     * What a write must reach before it counts (SPEC §18): `none` (Redis' memory), `replica` (`WAIT 1` confirms a
     * replica holds it), `fsync` (the start checks `appendfsync always`).
     */
    durability: 'none' | 'replica' | 'fsync';
    durabilityTimeoutMs: number;
    partitions: number;
    keyPrefix: string;
    allowEviction: boolean;
    dataDir: string;
  };
  /** The first provider (by priority): the one provider of `UPSTREAM_*`, or the preferred one of `PROVIDERS_FILE`. */
  upstream: {
    baseUrl: string | undefined;
    apiKey: string | undefined;
    timeoutMs: number;
    profile: ProviderProfile;
    /** UPSTREAM_WEBHOOK_SECRET (without PROVIDERS_FILE): the `default` provider's batch webhook secret. */
    webhookSecret: string | undefined;
  };
  /**
   * Every provider, by priority (lowest first). From `PROVIDERS_FILE`, or the one of `UPSTREAM_*` (id `default`);
   * empty when neither is set (an ingest-only process, or `pnpm start` before it starts the simulator).
   */
  providers: ProviderConfig[];
  /** Whether the providers came from `PROVIDERS_FILE`. */
  providersFile: string | undefined;
  /** Per-provider health (failover): failures that open the circuit, cool-down before a probe. */
  circuit: { failures: number; cooldownMs: number };
  http: { host: string; port: number; metricsPort: number | undefined; maxBodyBytes: number };
  tenantsFile: string | undefined;
  adminKey: string | undefined;
  /** JSON price table for the savings estimate (price-table.ts); unset: the built-in defaults. */
  priceTableFile: string | undefined;
  limits: {
    globalMaxQueued: number;
    resultRetentionMs: number;
    idempotencyTtlMs: number;
    /** Longest a request may hold its connection waiting for the outcome (`Prefer: wait`, SPEC §8), seconds. */
    maxWaitS: number;
  };
  batch: {
    maxRequests: number;
    maxBytes: number;
    maxTokens: number;
    /**
     * The limits of each endpoint's batches: the ones above, lowered where the profile's `endpointLimits` say so
     * (OpenAI: 50 000 embedding inputs per batch), with `maxInputs` (unbounded unless the profile sets it).
     */
    endpoints: Record<BatchEndpoint, EndpointLimits>;
    maxWaitMs: number;
    mixModels: boolean;
    completionWindow: string;
  };
  /**
   * Poll schedule: POLL_INTERVAL_MS × 1.5^polls, capped at POLL_MAX_INTERVAL_MS, or at POLL_MAX_INTERVAL_MS_PUSH for
   * the batches of a provider that pushes its batch events (`push`, SPEC §13).
   */
  poll: { intervalMs: number; maxIntervalMs: number; maxIntervalMsPush: number };
  /** The Batch API served by batchbridge (SPEC §12). */
  facade: { maxLines: number; maxFileBytes: number; maxWindowMs: number };
  maxAttempts: number;
  deleteProviderFiles: boolean;
  webhook: {
    timeoutMs: number;
    retryScheduleMs: number[];
    allowCidrs: string[];
    concurrency: number;
    hostConcurrency: number;
    /** Deliveries in flight per tenant in one dispatcher (issue 16.8): no tenant holds every slot. */
    tenantConcurrency: number;
    /** Previous secret's overlap after a rotation (WEBHOOK_SECRET_OVERLAP). */
    secretOverlapMs: number;
    circuitFailures: number;
    circuitCooldownMs: number;
    disableAfterMs: number;
    /** Attempts kept per outcome in its delivery log. */
    logAttempts: number;
  };
  /** Deadlines and lanes (SPEC §10). */
  deadlines: {
    marginMs: number;
    turnaroundMs: number | undefined;
    passMs: number;
    /** ESCALATE_CANCEL_BATCHES and its threshold (share of a live batch's requests at risk). */
    escalate: { enabled: boolean; atRiskShare: number };
  };
  metrics: { token: string | undefined; tenantLabel: boolean };
  log: { level: string; pretty: boolean };
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[]; message: string };

/** Validates an environment (normally `process.env`); never throws, never exits. */
export function parseConfig(env: Record<string, string | undefined>): ConfigResult {
  // Empty strings mean "unset": docker-compose and shells often pass VAR= for optional settings.
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') cleaned[k] = v;

  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const name = String(i.path[0] ?? '(environment)');
      const value = cleaned[name];
      const shown = value === undefined ? 'missing' : `got ${JSON.stringify(redactValue(name, value))}`;
      return `${name}: ${i.message} (${shown})`;
    });
    return { ok: false, problems, message: formatProblems(problems) };
  }
  const e = parsed.data;
  const problems: string[] = [];
  let providers: ProviderConfig[] = [];
  if (e.PROVIDERS_FILE) {
    const read = providersFile(e.PROVIDERS_FILE, env, e.UPSTREAM_TIMEOUT_MS);
    if (read.ok) providers = read.providers;
    else problems.push(...read.problems);
  } else {
    if (e.UPSTREAM_BASE_URL && !e.UPSTREAM_API_KEY) {
      problems.push('UPSTREAM_API_KEY: required when UPSTREAM_BASE_URL is set (missing)');
    }
    const only = PROVIDER_PROFILES[e.PROVIDER_PROFILE as ProviderProfileName];
    if (e.UPSTREAM_BASE_URL && e.UPSTREAM_API_KEY) {
      providers = [
        {
          id: DEFAULT_PROVIDER_ID,
          profile: only,
          baseUrl: e.UPSTREAM_BASE_URL,
          apiKey: e.UPSTREAM_API_KEY,
          models: [],
          aliases: {},
          priority: 100,
          webhookSecret: e.UPSTREAM_WEBHOOK_SECRET,
          push: e.UPSTREAM_WEBHOOK_SECRET !== undefined,
          lanes: upstreamLanes(e.UPSTREAM_LANES, only),
          realtime: realtimeBudget(e),
          timeoutMs: e.UPSTREAM_TIMEOUT_MS,
          batchCreatesPerMinute: only.batchCreatesPerMinute,
        },
      ];
    }
  }
  // Stable: equal priorities keep the file's order.
  providers = providers
    .map((p, i) => ({ p, i }))
    .sort((a, b) => a.p.priority - b.p.priority || a.i - b.i)
    .map((x) => x.p);
  const first = providers[0];
  const profile = first?.profile ?? PROVIDER_PROFILES[e.PROVIDER_PROFILE as ProviderProfileName];
  const profiles =
    providers.length > 0 ? providers.map((p) => ({ id: p.id, profile: p.profile })) : [{ id: '', profile }];
  for (const { id, profile: pr } of profiles) {
    const who = id && e.PROVIDERS_FILE ? `provider ${id} (profile ${pr.name})` : `the ${pr.name} profile`;
    if (pr.windowQuirk !== 'ignores' && !pr.completionWindows.includes(e.COMPLETION_WINDOW)) {
      problems.push(
        `COMPLETION_WINDOW: ${who} accepts ${pr.completionWindows.join(', ')} (got "${e.COMPLETION_WINDOW}")`,
      );
    }
    if (e.BATCH_MIX_MODELS && !pr.mixedModels) {
      problems.push(`BATCH_MIX_MODELS: ${who} allows one model per batch file (got true)`);
    }
  }
  if (e.POLL_MAX_INTERVAL_MS < e.POLL_INTERVAL_MS) {
    problems.push('POLL_MAX_INTERVAL_MS: must not be below POLL_INTERVAL_MS');
  }
  if (e.REDIS_MODE === 'cluster' && !e.REDIS_URL) {
    problems.push('REDIS_URL: required in cluster mode (comma-separated seed nodes)');
  }
  if (e.REDIS_MODE === 'sentinel') {
    if (!e.REDIS_SENTINELS) problems.push('REDIS_SENTINELS: required in sentinel mode (comma-separated host:port)');
    if (!e.REDIS_SENTINEL_MASTER) problems.push('REDIS_SENTINEL_MASTER: required in sentinel mode (the master name)');
  } else if (e.REDIS_SENTINELS || e.REDIS_SENTINEL_MASTER) {
    problems.push('REDIS_SENTINELS: only read when REDIS_MODE=sentinel');
  }
  if (e.REDIS_DURABILITY === 'replica' && e.REDIS_MODE === 'cluster') {
    // WAIT confirms the writes of one connection on one node; a coalesced call spans the partitions of several masters.
    problems.push('REDIS_DURABILITY: replica is not supported with REDIS_MODE=cluster (use standalone or sentinel)');
  }
  if (e.TENANTS_FILE) problems.push(...tenantsFileProblems(e.TENANTS_FILE, new Set(providers.map((p) => p.id))));
  const retryTotalMs = e.WEBHOOK_RETRY_SCHEDULE.reduce((sum, ms) => sum + ms, 0);
  if (e.RESULT_RETENTION < retryTotalMs) {
    // The record would expire while retries are still due: the outcome would be dropped without a trace.
    problems.push(
      `RESULT_RETENTION: must not be shorter than the whole WEBHOOK_RETRY_SCHEDULE (${e.RESULT_RETENTION} ms < ${retryTotalMs} ms)`,
    );
  }
  if (problems.length > 0) return { ok: false, problems, message: formatProblems(problems) };

  const clamp = (value: number | undefined, limit: number) => Math.min(value ?? limit, limit);
  // Flush limits fit the strictest provider: a flush may be created at any provider serving its model.
  const maxRequests = clamp(e.BATCH_MAX_REQUESTS, Math.min(...profiles.map((x) => x.profile.maxRequests)));
  const maxBytes = clamp(e.BATCH_MAX_BYTES, Math.min(...profiles.map((x) => x.profile.maxBytes)));
  const maxTokens = clamp(e.BATCH_MAX_TOKENS, Math.min(...profiles.map((x) => x.profile.maxTokens)));
  return {
    ok: true,
    config: {
      redis: {
        url: e.REDIS_URL,
        mode: e.REDIS_MODE,
        sentinels: (e.REDIS_SENTINELS ?? '')
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .map((s) => {
            const at = s.lastIndexOf(':');
            return { host: s.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(s.slice(at + 1)) };
          }),
        sentinelMaster: e.REDIS_SENTINEL_MASTER,
        durability: e.REDIS_DURABILITY,
        durabilityTimeoutMs: e.REDIS_DURABILITY_TIMEOUT_MS,
        partitions: e.REDIS_PARTITIONS ?? (e.REDIS_MODE === 'cluster' ? 16 : 1),
        keyPrefix: e.REDIS_KEY_PREFIX,
        allowEviction: e.REDIS_ALLOW_EVICTION,
        dataDir: e.REDIS_DATA_DIR,
      },
      upstream: {
        ...(first
          ? { baseUrl: first.baseUrl, apiKey: first.apiKey }
          : { baseUrl: e.UPSTREAM_BASE_URL, apiKey: e.UPSTREAM_API_KEY }),
        timeoutMs: e.UPSTREAM_TIMEOUT_MS,
        profile,
        webhookSecret: e.PROVIDERS_FILE ? undefined : e.UPSTREAM_WEBHOOK_SECRET,
      },
      providers,
      providersFile: e.PROVIDERS_FILE,
      circuit: { failures: e.PROVIDER_CIRCUIT_FAILURES, cooldownMs: e.PROVIDER_CIRCUIT_COOLDOWN },
      http: { host: e.HOST, port: e.PORT, metricsPort: e.METRICS_PORT, maxBodyBytes: e.MAX_BODY_BYTES },
      tenantsFile: e.TENANTS_FILE,
      adminKey: e.ADMIN_KEY,
      priceTableFile: e.PRICE_TABLE_FILE,
      limits: {
        globalMaxQueued: e.GLOBAL_MAX_QUEUED,
        resultRetentionMs: e.RESULT_RETENTION,
        idempotencyTtlMs: e.IDEMPOTENCY_TTL,
        maxWaitS: e.MAX_WAIT_S,
      },
      // One set of flush limits for every group: the strictest profile's, so no provider gets a batch it refuses.
      batch: {
        maxRequests,
        maxBytes,
        maxTokens,
        endpoints: Object.fromEntries(
          BATCH_ENDPOINTS.map((endpoint) => {
            // The strictest of the providers' own limits for this endpoint (a flush may go to any of them).
            const own = strictestEndpointLimits(profiles.map((x) => x.profile.endpointLimits[endpoint] ?? {}));
            return [
              endpoint,
              {
                maxRequests: Math.min(maxRequests, own.maxRequests ?? maxRequests),
                maxBytes: Math.min(maxBytes, own.maxBytes ?? maxBytes),
                maxTokens: Math.min(maxTokens, own.maxTokens ?? maxTokens),
                maxInputs: own.maxInputs ?? UNBOUNDED_INPUTS,
              },
            ];
          }),
        ) as Record<BatchEndpoint, EndpointLimits>,
        maxWaitMs: e.BATCH_MAX_WAIT_MS,
        mixModels: e.BATCH_MIX_MODELS,
        completionWindow: e.COMPLETION_WINDOW,
      },
      poll: {
        intervalMs: e.POLL_INTERVAL_MS,
        maxIntervalMs: e.POLL_MAX_INTERVAL_MS,
        maxIntervalMsPush: Math.max(e.POLL_MAX_INTERVAL_MS, e.POLL_MAX_INTERVAL_MS_PUSH),
      },
      facade: { maxLines: e.FACADE_MAX_LINES, maxFileBytes: e.FACADE_MAX_FILE_BYTES, maxWindowMs: e.FACADE_MAX_WINDOW },
      maxAttempts: e.MAX_ATTEMPTS,
      deleteProviderFiles: e.DELETE_PROVIDER_FILES,
      webhook: {
        timeoutMs: e.WEBHOOK_TIMEOUT_MS,
        retryScheduleMs: e.WEBHOOK_RETRY_SCHEDULE,
        allowCidrs: e.WEBHOOK_ALLOW_CIDRS,
        concurrency: e.WEBHOOK_CONCURRENCY,
        hostConcurrency: e.WEBHOOK_HOST_CONCURRENCY,
        tenantConcurrency:
          e.WEBHOOK_TENANT_CONCURRENCY ?? Math.max(e.WEBHOOK_HOST_CONCURRENCY, Math.ceil(e.WEBHOOK_CONCURRENCY / 2)),
        secretOverlapMs: e.WEBHOOK_SECRET_OVERLAP,
        circuitFailures: e.WEBHOOK_CIRCUIT_FAILURES,
        circuitCooldownMs: e.WEBHOOK_CIRCUIT_COOLDOWN,
        disableAfterMs: e.WEBHOOK_DISABLE_AFTER,
        logAttempts: e.WEBHOOK_LOG_ATTEMPTS,
      },
      deadlines: {
        marginMs: e.DEADLINE_MARGIN,
        turnaroundMs: e.BATCH_TURNAROUND,
        passMs: e.DEADLINE_PASS_MS,
        escalate: { enabled: e.ESCALATE_CANCEL_BATCHES, atRiskShare: e.ESCALATE_CANCEL_AT_RISK_SHARE },
      },
      metrics: { token: e.METRICS_TOKEN, tenantLabel: e.METRICS_TENANT_LABEL },
      log: { level: e.LOG_LEVEL, pretty: e.LOG_PRETTY },
    },
  };
}

/** The lanes of the `UPSTREAM_*` provider: UPSTREAM_LANES, else batch and realtime plus flex where the profile has it. */
export function upstreamLanes(raw: string | undefined, profile: ProviderProfile): Lane[] {
  if (raw) return [...new Set(raw.split(',').map((l) => l.trim() as Lane))];
  return profile.flex ? ['batch', 'flex', 'realtime'] : ['batch', 'realtime'];
}

function realtimeBudget(e: Env): ProviderConfig['realtime'] {
  if (e.REALTIME_RPM === undefined && e.REALTIME_TPM === undefined && e.REALTIME_CONCURRENCY === undefined)
    return undefined;
  return { rpm: e.REALTIME_RPM, tpm: e.REALTIME_TPM, concurrency: e.REALTIME_CONCURRENCY };
}

/** Reads and checks the tenants file here, so that a missing or bad file is a configuration problem, one line each. */
function tenantsFileProblems(file: string, providerIds: ReadonlySet<string>): string[] {
  let json: string;
  try {
    json = readFileSync(file, 'utf8');
  } catch (err) {
    return [`TENANTS_FILE: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`];
  }
  try {
    const tenants = parseTenants(json, 'TENANTS_FILE');
    const problems: string[] = [];
    for (const t of tenants) {
      for (const id of t.allowed_providers ?? []) {
        if (providerIds.size > 0 && !providerIds.has(id))
          problems.push(
            `TENANTS_FILE: ${file}: tenant ${t.id}: allowed_providers names "${id}", which no provider has`,
          );
      }
    }
    return problems;
  } catch (err) {
    return (err as Error).message.split('\n').map((line) => line.replace(/^TENANTS_FILE: /, `TENANTS_FILE: ${file}: `));
  }
}

/** Reads and checks the providers file (JSON, or YAML by its extension); problems one line each, naming the file. */
function providersFile(
  file: string,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): { ok: true; providers: ProviderConfig[] } | { ok: false; problems: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return {
      ok: false,
      problems: [
        `PROVIDERS_FILE: cannot read ${JSON.stringify(file)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      ],
    };
  }
  return parseProviders(text, {
    source: `PROVIDERS_FILE: ${file}`,
    yaml: /\.ya?ml$/i.test(file),
    env,
    defaults: { timeoutMs },
  });
}

function redactValue(name: string, value: string): string {
  return /KEY|TOKEN|SECRET|PASSWORD/.test(name) ? '[redacted]' : value.length > 80 ? `${value.slice(0, 77)}...` : value;
}

function formatProblems(problems: string[]): string {
  return `batchbridge: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}\n`;
}

/** The smallest of each limit that any of the given endpoint limits sets (unset: no limit of its own). */
function strictestEndpointLimits(list: ReadonlyArray<Partial<EndpointLimits>>): Partial<EndpointLimits> {
  const out: Partial<EndpointLimits> = {};
  for (const own of list) {
    for (const k of ['maxRequests', 'maxBytes', 'maxTokens', 'maxInputs'] as const) {
      const v = own[k];
      if (v !== undefined) out[k] = Math.min(out[k] ?? v, v);
    }
  }
  return out;
}
