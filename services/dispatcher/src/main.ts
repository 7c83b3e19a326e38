// Runs the dispatcher alone (SPEC §2): `pnpm --filter @batchbridge/dispatcher start`.
import { runMain } from '@batchbridge/runtime';
import { startDispatcher } from './dispatcher.js';

await runMain(process, {
  service: 'dispatcher',
  defaultMetricsPort: 9103,
  needsProvider: false,
  start: (runtime) => startDispatcher(runtime),
});
