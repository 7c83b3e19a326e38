/**
 * A batchbridge service as a child process of the fault run: the same `runMain` and `start*` functions as
 * `services/<name>/src/main.ts` (environment, runtime, health server, SIGTERM shutdown, `BB_FAULT_CRASH_AT` for the
 * packer), with the recovery timers shortened so that work a SIGKILLed process held comes back within seconds rather
 * than the production 30 s (the run can then afford dozens of kills), and the packer's batch-creation budget raised.
 */
import { startDispatcher } from '@batchbridge/dispatcher';
import { startIngestApi } from '@batchbridge/ingest-api';
import { crashAt, startPacker } from '@batchbridge/packer';
import { startPoller } from '@batchbridge/poller';
import { runMain } from '@batchbridge/runtime';

const service = process.env.BB_FAULT_SERVICE;

switch (service) {
  case 'ingest-api':
    await runMain(process, {
      service,
      defaultMetricsPort: null,
      needsProvider: false,
      start: (runtime) => startIngestApi(runtime),
    });
    break;
  case 'packer': {
    const crashPoint = crashAt(process.env.BB_FAULT_CRASH_AT, () => process.kill(process.pid, 'SIGKILL'));
    await runMain(process, {
      service,
      defaultMetricsPort: 0,
      needsProvider: true,
      start: (runtime) =>
        startPacker(runtime, {
          sweepIntervalMs: 1_000,
          outboxAgeMs: 1_000,
          staleFlushMs: 4_000,
          lockDurationMs: 4_000,
          stalledIntervalMs: 2_000,
          backoff: { baseMs: 200, capMs: 2_000 },
          // The profile's 60 creations a minute would hold flushes back for up to a minute after every restart, and
          // with them the crash points after batches.create; the simulator has no such limit.
          batchCreatesPerMinute: 600,
          ...(crashPoint ? { crashPoint } : {}),
        }),
    });
    break;
  }
  case 'poller':
    await runMain(process, {
      service,
      defaultMetricsPort: 0,
      needsProvider: true,
      start: (runtime) =>
        startPoller(runtime, {
          sweepIntervalMs: 2_000,
          groupHoldMs: 2_000,
          lockDurationMs: 4_000,
          stalledIntervalMs: 2_000,
          backoff: { baseMs: 200, capMs: 2_000 },
        }),
    });
    break;
  case 'dispatcher':
    await runMain(process, {
      service,
      defaultMetricsPort: 0,
      needsProvider: false,
      start: (runtime) =>
        startDispatcher(runtime, {
          sweepIntervalMs: 1_000,
          sweepGraceMs: 1_000,
          lockDurationMs: 4_000,
          stalledIntervalMs: 2_000,
        }),
    });
    break;
  default:
    process.stderr.write(`service-main: unknown BB_FAULT_SERVICE ${JSON.stringify(service)}\n`);
    process.exit(2);
}
