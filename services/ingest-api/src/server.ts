/**
 * `startIngestApi`: the ingest HTTP server around the express app, with a shutdown that stops accepting, lets in-flight
 * requests finish (each one ends with its Redis reply or a 1 s command timeout), then drops idle keep-alive sockets.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Runtime, Service } from '@batchbridge/runtime';
import { createIngestApp, type IngestAppOptions } from './app.js';

export interface IngestApiOptions extends IngestAppOptions {
  /** Interface to listen on. @defaultValue `runtime.config.http.host` (HOST, default 127.0.0.1) */
  host?: string;
  /** Port; 0 for any free one. @defaultValue `runtime.config.http.port` (PORT, default 8080) */
  port?: number;
  /** How long `close()` waits for in-flight requests before cutting connections. @defaultValue 10 000 ms */
  drainTimeoutMs?: number;
}

export interface IngestApi extends Service {
  /** Base URL, e.g. `http://127.0.0.1:8080` (no trailing slash). */
  url: string;
}

export async function startIngestApi(runtime: Runtime, options: IngestApiOptions = {}): Promise<IngestApi> {
  const host = options.host ?? runtime.config.http.host;
  const port = options.port ?? runtime.config.http.port;
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const { app, fastPath, markClosing, ready, stop } = createIngestApp(runtime, options);
  // Express responses in flight, so that a shutdown can tell their clients not to reuse the connection. The fast path
  // (chat-fast-path.ts) decides that itself when it answers: a listener per request costs too much on the hot path.
  const inFlight = new Set<ServerResponse>();
  let stopping = false;
  const server = createServer((req, res) => {
    if (fastPath(req, res)) return;
    if (stopping) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    app(req, res);
  });
  // Load balancers commonly keep idle connections for 60 s; outlive them so they never reuse a socket we just closed.
  server.keepAliveTimeout = 65_000;
  // A Batch API upload (POST /v1/files, up to FACADE_MAX_FILE_BYTES) is one long request: Node's default of 300 s for
  // receiving a whole request cut a 367 MB upload on a loaded box (408, S9). Headers must still arrive within
  // `headersTimeout` (60 s); JSON bodies are bounded by MAX_BODY_BYTES.
  server.requestTimeout = 3_600_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${shownHost}:${address.port}`;
  runtime.logger.info({ url }, 'ingest-api listening');

  let closing: Promise<void> | undefined;
  return {
    name: 'ingest-api',
    url,
    ready,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        stopping = true;
        markClosing();
        for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
        const timer = setTimeout(() => server.closeAllConnections(), drainTimeoutMs);
        timer.unref();
        // Idle keep-alive sockets would hold close() open until their timeout; busy ones finish their response first,
        // and a response that had already promised keep-alive leaves its socket idle when it ends: close those as
        // they turn up.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        sweep.unref();
        // Requests that wait for their outcome are answered now (202 with Location), not cut at the drain timeout.
        void stop().catch(() => undefined);
        server.close(() => {
          clearTimeout(timer);
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
  };
}
