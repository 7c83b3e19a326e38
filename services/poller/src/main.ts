/** Runs the poller alone: `pnpm --filter @batchbridge/poller start` (environment: SPEC §5). */
import { runMain } from '@batchbridge/runtime';
import { POLLER_HEAP_GROWING_PERCENT } from './options.js';
import { startPoller } from './poller.js';

await runMain(process, {
  service: 'poller',
  defaultMetricsPort: 9102,
  needsProvider: true,
  start: startPoller,
  heapGrowingPercent: POLLER_HEAP_GROWING_PERCENT,
});
