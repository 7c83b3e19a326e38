/**
 * A minimal `fetch` over node:http/https, for uploads of batch input files. Node's built-in fetch (undici) holds a
 * streamed request body in memory — measured on Node 20: about 200 MB of ArrayBuffers for a 200 MB upload, whether the
 * body is a file-backed Blob, FormData or a ReadableStream, even against a slow reader — which breaks bounded memory
 * (I4). node:http honours the socket's backpressure (about 7 MB peak for the same upload).
 *
 * It does only what the openai SDK needs: method, headers, a body (string, bytes or ReadableStream, sent chunked) and
 * an AbortSignal (the SDK's timeout). Failures reject with the socket error, which the SDK turns into an
 * APIConnectionError (retryable).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { MetricsCatalog } from '@batchbridge/metrics';
import { operationOf } from '@batchbridge/provider';

function responseHeaders(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

export const streamingFetch: typeof fetch = (input, init) =>
  new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? 'GET';
    const signal = init?.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers: Object.fromEntries(new Headers(init?.headers)) });
    const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', reject);
    req.once('response', (res) => {
      res.once('close', () => signal?.removeEventListener('abort', onAbort));
      const status = res.statusCode ?? 502;
      const empty = method === 'HEAD' || status === 204 || status === 304;
      const body = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      if (empty) res.resume();
      resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res) }));
    });
    const body = init?.body;
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else if (body instanceof ReadableStream) {
      pipeline(Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>), req).catch((err: Error) => {
        req.destroy(err);
      });
    } else {
      req.destroy();
      reject(new TypeError('streamingFetch: unsupported request body'));
    }
  });

/** Counts and times the calls of `fetchFn` in the upstream metrics, as the runtime's provider client does. */
export function instrumentedFetch(fetchFn: typeof fetch, metrics: MetricsCatalog): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const operation = operationOf(init?.method ?? 'GET', url);
    const stop = metrics.upstreamRequestDuration.startTimer({ operation });
    try {
      const res = await fetchFn(input, init);
      metrics.upstreamRequests.inc({ operation, status: String(res.status) });
      return res;
    } catch (err) {
      metrics.upstreamRequests.inc({ operation, status: 'error' });
      throw err;
    } finally {
      stop();
    }
  };
}
