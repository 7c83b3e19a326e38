/**
 * One prom-client registry per process (the all-in-one process therefore exposes one merged `/metrics`), the metrics
 * catalogue, and a request handler that serves the Prometheus text format, optionally behind a bearer token.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createMetricsCatalog, type MetricsCatalog } from './catalog.js';

export { createMetricsCatalog, type MetricsCatalog } from './catalog.js';

export interface Metrics {
  registry: Registry;
  m: MetricsCatalog;
  /** Callbacks run before each scrape (e.g. refreshing queue gauges); errors are swallowed. */
  onCollect(fn: () => Promise<void>): void;
  /** Renders the text format after running the collect callbacks. */
  render(): Promise<string>;
}

export interface CreateMetricsOptions {
  /** Collect Node process metrics. @defaultValue `true` */
  processMetrics?: boolean;
}

export function createMetrics(options: CreateMetricsOptions = {}): Metrics {
  const registry = new Registry();
  // prom-client's names already start with `process_` / `nodejs_`: prefix `batchbridge_` gives
  // `batchbridge_process_cpu_user_seconds_total`, not `batchbridge_process_process_…`.
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'batchbridge_' });
  const m = createMetricsCatalog(registry);
  const collectors: Array<() => Promise<void>> = [];
  return {
    registry,
    m,
    onCollect: (fn) => {
      collectors.push(fn);
    },
    render: async () => {
      await Promise.all(collectors.map((fn) => fn().catch(() => undefined)));
      return registry.metrics();
    },
  };
}

/** `GET /metrics` for node:http or express: Prometheus text, 401 when a token is configured and not presented. */
export function metricsHandler(metrics: Metrics, token?: string) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (token && !bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('metrics token required\n');
      return;
    }
    const body = await metrics.render();
    res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
  };
}

export function bearerMatches(header: string | undefined, expected: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  // Fixed-length digests, as ADMIN_KEY does: comparing the raw tokens would stop early on a length mismatch and so
  // tell a caller how long the token is.
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(header.slice(7)), digest(expected));
}
