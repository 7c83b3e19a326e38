/**
 * Everything in one process — the embedded default behind `pnpm start` and `pnpm demo`: Redis (configured, the local
 * one on 6379, or an embedded redis-server), the provider simulator when no UPSTREAM_BASE_URL is given, and the ingest
 * API, packer, poller and dispatcher sharing one runtime (so one merged `/metrics`).
 */

import { type Config, parseConfig, type Tenant } from '@batchbridge/config';
import { startDispatcher } from '@batchbridge/dispatcher';
import { BatchbridgeError } from '@batchbridge/errors';
import { startIngestApi } from '@batchbridge/ingest-api';
import { createLogger, type Logger } from '@batchbridge/logger';
import { startPacker } from '@batchbridge/packer';
import { startPoller } from '@batchbridge/poller';
import { createProviderSim, optionsFromEnv, type ProviderSim } from '@batchbridge/provider-sim';
import { probeRedis, type ResolvedRedis, resolveRedis } from '@batchbridge/redis';
import { CloseStack, createRuntime, loadTenants, type Runtime, type Service } from '@batchbridge/runtime';

export interface EmbeddedOptions {
  /** Environment (normally `process.env`), SPEC §5 names plus the simulator's `SIM_*`. */
  env: Record<string, string | undefined>;
  logger?: Logger;
  /**
   * Where each started part registers its close, so that the caller's signal handlers (main.ts) close a half-started
   * process too. @defaultValue a stack of its own
   */
  closeStack?: CloseStack;
}

export interface Embedded {
  /** Base URL of the ingest API (no trailing slash). */
  url: string;
  config: Config;
  runtime: Runtime;
  redis: ResolvedRedis;
  /** The simulator, when it was started because no upstream was configured. */
  sim: ProviderSim | undefined;
  /** The dev tenant, when TENANTS_FILE is unset. */
  devTenant: Tenant | undefined;
  services: Service[];
  close(): Promise<void>;
}

export class EmbeddedConfigError extends BatchbridgeError {
  constructor(message: string) {
    super('embedded.config', message);
  }
}

/** Defaults of the embedded mode that differ from a production deployment. */
function embeddedEnv(env: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...env };
  // A laptop demo delivers to a receiver on localhost; production refuses loopback unless allow-listed.
  out.WEBHOOK_ALLOW_CIDRS ??= '127.0.0.0/8,::1/128';
  if (!out.UPSTREAM_BASE_URL) {
    // Filled in once the simulator listens; the key only has to be non-empty.
    out.UPSTREAM_API_KEY ??= 'sk-batchbridge-simulator';
    // With the bundled simulator a pasted curl line should show its webhook within seconds, as `pnpm demo` does.
    if (!out.BATCH_MAX_WAIT_MS) out.BATCH_MAX_WAIT_MS = '2000';
  }
  return out;
}

/** The embedded defaults, exposed for tests. */
export const embeddedEnvForTest = embeddedEnv;

/** The process logger of the embedded mode (LOG_LEVEL, LOG_PRETTY), for main.ts to log a signal during start-up. */
export function embeddedLogger(env: Record<string, string | undefined>): Logger {
  const parsed = parseConfig({
    ...embeddedEnv(env),
    UPSTREAM_BASE_URL: env.UPSTREAM_BASE_URL ?? 'http://127.0.0.1:1/v1',
  });
  if (!parsed.ok) throw new EmbeddedConfigError(parsed.message);
  return createLogger({ service: 'batchbridge', level: parsed.config.log.level, pretty: parsed.config.log.pretty });
}

export async function startEmbedded(options: EmbeddedOptions): Promise<Embedded> {
  const env = embeddedEnv(options.env);
  let sim: ProviderSim | undefined;
  const stack = options.closeStack ?? new CloseStack();
  const closeAll = async () => {
    for (const step of stack.steps()) await step.run().catch(() => undefined);
  };
  try {
    const first = parseConfig({ ...env, UPSTREAM_BASE_URL: env.UPSTREAM_BASE_URL ?? 'http://127.0.0.1:1/v1' });
    if (!first.ok) throw new EmbeddedConfigError(first.message);
    // Before anything else starts: an unreachable Redis is one line naming REDIS_URL, not a stack trace later.
    if (first.config.redis.url && first.config.redis.mode !== 'sentinel') await probeRedis(first.config.redis.url);
    const logger =
      options.logger ??
      createLogger({ service: 'batchbridge', level: first.config.log.level, pretty: first.config.log.pretty });

    // PROVIDERS_FILE names the providers itself: no bundled simulator then.
    if (!env.UPSTREAM_BASE_URL && !env.PROVIDERS_FILE) {
      const simProfile = first.config.upstream.profile.name === 'kluster' ? 'kluster' : 'openai';
      // SIM_WEBHOOK_SECRET without SIM_WEBHOOK_URL: the simulator pushes its batch events to this process's own
      // `POST /v1/provider-events/default` once the ingest listens (SPEC §13).
      const selfPush = env.SIM_WEBHOOK_SECRET !== undefined && !env.SIM_WEBHOOK_URL;
      const simEnv: Record<string, string | undefined> = {
        ...env,
        SIM_PORT: env.SIM_PORT ?? '0',
        PROVIDER_PROFILE: simProfile,
      };
      if (selfPush) delete simEnv.SIM_WEBHOOK_SECRET;
      sim = await createProviderSim({
        ...optionsFromEnv(simEnv),
        logger: logger.child({ component: 'provider-sim' }),
      });
      stack.push('provider-sim', () => sim!.close());
    }
    const parsed = parseConfig({ ...env, UPSTREAM_BASE_URL: sim ? sim.url : env.UPSTREAM_BASE_URL });
    if (!parsed.ok) throw new EmbeddedConfigError(parsed.message);
    const config = parsed.config;

    const tenants = loadTenants(config.tenantsFile, `${config.redis.dataDir}/../dev-tenant.json`);
    const redis = await resolveRedis({
      url: config.redis.url,
      mode: config.redis.mode,
      dataDir: config.redis.dataDir,
      logger,
    });
    stack.push('embedded-redis', () => redis.stop());
    const runtime = await createRuntime({
      config,
      redisUrl: redis.url,
      logger,
      service: 'batchbridge',
      tenants: tenants.directory,
    });
    stack.push('runtime', () => runtime.close());

    const services: Service[] = [];
    // Workers first, intake last: by the time a 202 goes out, everything downstream runs.
    for (const start of [startDispatcher, startPoller, startPacker]) {
      const service = await start(runtime);
      services.push(service);
      stack.push(service.name, () => service.close());
    }
    const ingest = await startIngestApi(runtime, { host: config.http.host, port: config.http.port });
    services.push(ingest);
    stack.push(ingest.name, () => ingest.close());
    if (sim && env.SIM_WEBHOOK_SECRET !== undefined && !env.SIM_WEBHOOK_URL) {
      sim.setWebhook({ url: `${ingest.url}/v1/provider-events/default`, secret: env.SIM_WEBHOOK_SECRET });
    }

    let closing: Promise<void> | undefined;
    return {
      url: ingest.url,
      config,
      runtime,
      redis,
      sim,
      devTenant: tenants.dev,
      services,
      close: () => {
        closing ??= closeAll();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
