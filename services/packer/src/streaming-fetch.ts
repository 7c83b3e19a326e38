/**
 * A minimal `fetch` over node:http/https, for uploads of batch input files. Node's built-in fetch (undici) holds a
 * streamed request body in memory — measured on Node 20: about 200 MB of ArrayBuffers for a 200 MB upload, whether the
 * body is a file-backed Blob, FormData or a ReadableStream, even against a slow reader — which breaks bounded memory
 * (I4). node:http honours the socket's backpressure (about 7 MB peak for the same upload).
 *
 * It does only what the openai SDK needs: method, headers, a body and an AbortSignal (the SDK's timeout). Bodies:
 * string or bytes; `FormData` (what the SDK builds for `files.create` from a File or Blob), encoded here with an exact
 * `Content-Length` and its file parts streamed from their Blobs (multipart.ts) — providers' front ends may refuse or
 * buffer a chunked upload; a ReadableStream, sent chunked (its length is unknown). `data:` URLs (the SDK probes
 * FormData support with `fetch('data:,')`) go to Node's fetch. Failures reject with the socket error, which the SDK
 * turns into an APIConnectionError (retryable).
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { MetricsCatalog } from '@batchbridge/metrics';
import { operationOf, responseHeaders } from '@batchbridge/provider';
import { encodeMultipart } from './multipart.js';

export const streamingFetch: typeof fetch = (input, init) =>
  new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    if (url.protocol === 'data:') {
      fetch(input, init).then(resolve, reject);
      return;
    }
    const method = init?.method ?? 'GET';
    const signal = init?.signal;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const body = init?.body;
    const headers = Object.fromEntries(new Headers(init?.headers));
    const multipart = body instanceof FormData ? encodeMultipart(body) : undefined;
    if (multipart) {
      delete headers['transfer-encoding'];
      headers['content-type'] = multipart.contentType;
      headers['content-length'] = String(multipart.length);
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(url, { method, headers });
    const onAbort = () => req.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    req.once('error', reject);
    // A request destroyed before it has a socket (a body that fails at once, an early abort) closes without an
    // 'error' event: without this the promise would never settle. Deferred so that the body's own error (failBody)
    // is the one reported; after a response, rejecting is a no-op.
    req.once('close', () =>
      setImmediate(() =>
        reject(signal?.aborted ? signal.reason : new Error('streamingFetch: connection closed before a response')),
      ),
    );
    const failBody = (err: Error) => {
      req.destroy(err);
      reject(err);
    };
    req.once('response', (res) => {
      res.once('close', () => signal?.removeEventListener('abort', onAbort));
      const status = res.statusCode ?? 502;
      const empty = method === 'HEAD' || status === 204 || status === 304;
      const body = empty ? null : (Readable.toWeb(res) as unknown as ReadableStream<Uint8Array>);
      if (empty) res.resume();
      resolve(new Response(body, { status, statusText: res.statusMessage ?? '', headers: responseHeaders(res) }));
    });
    if (body === undefined || body === null) req.end();
    else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
    else if (multipart) pipeline(multipart.chunks(), req).catch(failBody);
    else if (body instanceof ReadableStream) {
      pipeline(Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>), req).catch(failBody);
    } else {
      req.destroy();
      reject(new TypeError('streamingFetch: unsupported request body'));
    }
  });

/**
 * Counts and times the calls of `fetchFn` in the upstream metrics, as the runtime's provider client does (not the
 * SDK's `data:` probe, which is no provider call).
 */
export function instrumentedFetch(fetchFn: typeof fetch, metrics: MetricsCatalog): typeof fetch {
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url.startsWith('data:')) return fetchFn(input, init);
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
