/**
 * The whole pipeline in one process for the observability tests, with its logs captured: every pino line the
 * process writes (ingest, packer, simulator, poller, dispatcher) lands in `lines`, as the text a log shipper would see.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Embedded, startEmbedded } from '@batchbridge/all-in-one';
import { createLogger } from '@batchbridge/logger';
import { freshPrefix, sharedRedisUrl, TEST_TENANTS } from '@batchbridge/testkit';

export interface ObservedPipeline extends Embedded {
  /** Raw log lines (JSON text), in the order written. */
  lines: string[];
  dispose(): Promise<void>;
}

export async function startObservedPipeline(env: Record<string, string> = {}): Promise<ObservedPipeline> {
  const redis = await sharedRedisUrl();
  const tenantsFile = join(tmpdir(), `bb-tenants-${freshPrefix()}.json`);
  writeFileSync(tenantsFile, JSON.stringify({ tenants: TEST_TENANTS }));
  const lines: string[] = [];
  let partial = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      lines.push(...parts.filter((l) => l.length > 0));
      done();
    },
  });
  const logger = createLogger({ service: 'batchbridge', level: env.LOG_LEVEL ?? 'debug', destination });
  const embedded = await startEmbedded({
    env: {
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: freshPrefix('obs'),
      TENANTS_FILE: tenantsFile,
      PORT: '0',
      BATCH_MAX_WAIT_MS: '100',
      POLL_INTERVAL_MS: '50',
      POLL_MAX_INTERVAL_MS: '200',
      SIM_VALIDATING_MS: '0',
      SIM_FINALIZING_MS: '0',
      SIM_LINES_PER_SECOND: '0',
      WEBHOOK_RETRY_SCHEDULE: '20ms,20ms',
      ...env,
    },
    logger,
  });
  return Object.assign(embedded, {
    lines,
    dispose: async () => {
      await embedded.close();
      await redis.stop();
    },
  });
}
