import { runMain } from '@batchbridge/runtime';
import { crashAt } from './crash-points.js';
import { startPacker } from './packer.js';

// BB_FAULT_CRASH_AT=<crash point> kills this process at that step: fault injection for the recovery tests only.
const crashPoint = crashAt(process.env.BB_FAULT_CRASH_AT, () => process.kill(process.pid, 'SIGKILL'));

await runMain(process, {
  service: 'packer',
  defaultMetricsPort: 9101,
  needsProvider: true,
  start: (runtime) => startPacker(runtime, crashPoint ? { crashPoint } : {}),
});
