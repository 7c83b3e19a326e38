/** `pnpm start`: every batchbridge role in one process (see embedded.ts). */

import { dirname } from 'node:path';
import { RedisSetupError } from '@batchbridge/redis';
import { CloseStack, handleSignals } from '@batchbridge/runtime';
import { banner } from './banner.js';
import { EmbeddedConfigError, embeddedLogger, startEmbedded } from './embedded.js';
import { checkoutKeyPrefix } from './key-prefix.js';

try {
  // Unset: this checkout's own prefix (key-prefix.ts), so two clones sharing a Redis stay apart.
  const env = { ...process.env };
  env.REDIS_KEY_PREFIX ||= checkoutKeyPrefix(dirname(env.REDIS_DATA_DIR ?? '.data/redis'));
  const logger = embeddedLogger(env);
  // As runMain does: the handlers go in before anything starts and close whatever has started by then.
  const closeStack = new CloseStack();
  handleSignals(process, logger, () => closeStack.steps());
  const embedded = await startEmbedded({ env, logger, closeStack });
  process.stdout.write(banner(embedded));
} catch (err) {
  if (err instanceof EmbeddedConfigError || err instanceof RedisSetupError) {
    process.stderr.write(err.message.endsWith('\n') ? err.message : `${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
