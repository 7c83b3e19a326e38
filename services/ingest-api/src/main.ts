import { runMain } from '@batchbridge/runtime';
import { startIngestApi } from './index.js';

await runMain(process, {
  service: 'ingest-api',
  defaultMetricsPort: null,
  needsProvider: false,
  start: (runtime) => startIngestApi(runtime),
});
