/**
 * The body of every single-service `main.ts`: parse the environment (a bad one exits 2 with one line per problem),
 * resolve Redis (the embedded default of SPEC §5), build the runtime, start the service and its health server, and
 * shut down in order on SIGINT/SIGTERM (a second signal forces exit). The caller passes `process` in, so that `main.ts`
 * stays the only file that touches it.
 */
import { setFlagsFromString } from 'node:v8';
import { parseConfig } from '@batchbridge/config';
import { createLogger } from '@batchbridge/logger';
import { RedisSetupError, resolveRedis } from '@batchbridge/redis';
import { type HealthServer, startHealthServer } from './health-server.js';
import { missingNodeFlags } from './node-flags.js';
import { createRuntime, type Runtime } from './runtime.js';
import type { Service } from './service.js';
import { handleSignals } from './shutdown.js';
import { loadTenants } from './tenants.js';

export interface RunMainOptions {
  service: string;
  /** Port of the /metrics, /healthz, /readyz server when METRICS_PORT is unset; `null` for none (ingest serves its own). */
  defaultMetricsPort: number | null;
  /** Whether this service calls the provider (then UPSTREAM_BASE_URL and UPSTREAM_API_KEY are required). */
  needsProvider: boolean;
  start: (runtime: Runtime) => Promise<Service>;
  /**
   * V8's heap growing factor as a percentage over the live heap (`--heap-growing-percent`), for services whose memory
   * must stay flat (SPEC I4). V8 lets the heap grow up to about 4× what survived the last full GC before collecting
   * again; a streaming worker allocates fast, and what it holds while Redis answers outlives a scavenge, so its RSS
   * rises far above its working set (the poller: 139 MB heap used for about 50 MB live while routing). 50 keeps the heap
   * within 1.5× of the live set, at the price of more frequent full GCs. @defaultValue V8's own (unset)
   */
  heapGrowingPercent?: number;
}

export async function runMain(proc: NodeJS.Process, options: RunMainOptions): Promise<void> {
  // Read by V8 each time it sets the next GC limit, so setting it at start-up takes effect (measured: the poller's peak
  // RSS routing a 42 MB output file went from 275 to 185 MB); a command-line flag would not reach `pnpm start` or tsx.
  if (options.heapGrowingPercent !== undefined) {
    setFlagsFromString(`--heap-growing-percent=${options.heapGrowingPercent}`);
  }
  const parsed = parseConfig(proc.env);
  if (!parsed.ok) {
    proc.stderr.write(parsed.message);
    proc.exit(2);
  }
  const config = parsed.config;
  if (options.needsProvider && !config.upstream.baseUrl) {
    proc.stderr.write(
      `batchbridge ${options.service}: UPSTREAM_BASE_URL and UPSTREAM_API_KEY are required when this service runs alone ` +
        '(`pnpm start` runs everything with the bundled provider simulator instead)\n',
    );
    proc.exit(2);
  }
  const logger = createLogger({ service: options.service, level: config.log.level, pretty: config.log.pretty });
  const missing = missingNodeFlags(options.service, proc.execArgv, proc.env.NODE_OPTIONS);
  if (missing.length > 0) {
    logger.info({ flags: missing }, 'started without the node flags this service is tuned for (see its start scripts)');
  }
  // Signal handlers go in before anything starts, so that a SIGTERM during start-up still shuts down in order.
  let service: Service | undefined;
  let runtime: Runtime | undefined;
  let health: HealthServer | undefined;
  let stopEmbedded: () => Promise<void> = async () => undefined;
  handleSignals(proc, logger, () => [
    { name: options.service, run: async () => service?.close() },
    { name: 'runtime', run: async () => runtime?.close() },
    { name: 'embedded-redis', run: () => stopEmbedded() },
    { name: 'health', run: async () => health?.close() },
  ]);

  let tenants: ReturnType<typeof loadTenants>;
  try {
    tenants = loadTenants(config.tenantsFile, `${config.redis.dataDir}/../dev-tenant.json`);
  } catch (err) {
    proc.stderr.write(`batchbridge ${options.service}: ${(err as Error).message}\n`);
    proc.exit(2);
  }
  try {
    const redis = await resolveRedis({
      url: config.redis.url,
      mode: config.redis.mode,
      dataDir: config.redis.dataDir,
      logger,
    });
    stopEmbedded = redis.stop;
    runtime = await createRuntime({
      config,
      redisUrl: redis.url,
      logger,
      service: options.service,
      tenants: tenants.directory,
    });
  } catch (err) {
    const message = err instanceof RedisSetupError ? err.message : `cannot connect to Redis: ${(err as Error).message}`;
    proc.stderr.write(`batchbridge ${options.service}: ${message}\n`);
    await stopEmbedded();
    proc.exit(1);
  }
  // Tenant configuration without a restart (SPEC §16): the file is watched, and SIGHUP reloads it at once.
  const directory = tenants.directory;
  const reloaded = (result: { ok: true; tenants: number } | { ok: false; error: string }) => {
    if (result.ok) logger.info({ tenants: result.tenants }, 'TENANTS_FILE reloaded');
    else logger.error({ err: result.error }, 'TENANTS_FILE changed but does not parse; the previous tenants stay');
  };
  directory.watch(reloaded);
  if (directory.file !== undefined) {
    proc.on('SIGHUP', () => {
      try {
        reloaded({ ok: true, tenants: directory.reload() });
      } catch (err) {
        reloaded({ ok: false, error: (err as Error).message });
      }
    });
  }
  const started = await options.start(runtime);
  service = started;
  const port = config.http.metricsPort ?? options.defaultMetricsPort;
  if (port !== null) {
    health = await startHealthServer({
      port,
      host: config.http.host,
      metrics: runtime.metrics,
      metricsToken: config.metrics.token,
      ready: () => started.ready(),
    });
  }
  logger.info({ health: health?.url }, `${options.service} running`);
}
