/** `pnpm start`: every batchbridge role in one process (see embedded.ts). */

import { dirname } from 'node:path';
import { RedisSetupError } from '@batchbridge/redis';
import { createShutdown } from '@batchbridge/runtime';
import { banner } from './banner.js';
import { EmbeddedConfigError, startEmbedded } from './embedded.js';
import { checkoutKeyPrefix } from './key-prefix.js';

try {
  // Unset: this checkout's own prefix (key-prefix.ts), so two clones sharing a Redis stay apart.
  const env = { ...process.env };
  env.REDIS_KEY_PREFIX ||= checkoutKeyPrefix(dirname(env.REDIS_DATA_DIR ?? '.data/redis'));
  const embedded = await startEmbedded({ env });
  process.stdout.write(banner(embedded));
  const shutdown = createShutdown(
    () => [{ name: 'batchbridge', run: () => embedded.close() }],
    embedded.runtime.logger,
  );
  let signals = 0;
  const onSignal = (signal: string) => {
    signals += 1;
    if (signals > 1) process.exit(130);
    void shutdown(signal).then((code) => process.exit(code));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
} catch (err) {
  if (err instanceof EmbeddedConfigError || err instanceof RedisSetupError) {
    process.stderr.write(err.message.endsWith('\n') ? err.message : `${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
