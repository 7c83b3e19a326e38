/**
 * The small HTTP server of worker services: `/healthz` (the process runs), `/readyz` (Redis answers and the service
 * says it is ready) and `/metrics` (Prometheus text, optionally behind METRICS_TOKEN).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Metrics, metricsHandler } from '@batchbridge/metrics';

export interface HealthServerOptions {
  port: number;
  host: string;
  metrics: Metrics;
  metricsToken?: string | undefined;
  ready: () => Promise<boolean>;
}

export interface HealthServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const serveMetrics = metricsHandler(options.metrics, options.metricsToken);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      options
        .ready()
        .catch(() => false)
        .then((ok) => {
          res
            .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ status: ok ? 'ready' : 'not_ready' }));
        });
    } else if (path === '/metrics') {
      serveMetrics(req, res).catch(() => res.writeHead(500).end());
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${options.host}:${port}`,
    server,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
