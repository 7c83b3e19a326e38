/**
 * The `fetch` of a provider's file downloads (`GET …/files/{id}/content`), over node:http(s) (issue 17). Node's fetch
 * hands a body over as a WHATWG stream, and its machinery per 64 KB chunk cost the poller about 1 s of CPU for a 1 GB
 * embeddings output file; a Node Readable costs half of that (measured: 1.33 GB in 0.8–0.9 s of CPU against 1.4 s).
 *
 * The answer is a real `Response` (the SDK checks its status and reads an error's text as usual) whose body is a web
 * stream that reads the Node stream only when pulled; `nodeBodyOf(response)` hands the Node stream itself to a reader
 * that takes it instead (the adapters' result sources), which then never touches the web stream. The SDK still
 * builds the request — base URL, the provider's auth headers, the AbortSignal of its timeout and of the caller.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

const NODE_BODIES = new WeakMap<Response, IncomingMessage>();

/** The Node stream of a download made by `downloadFetch`, not yet read through its web body; else undefined. */
export function nodeBodyOf(response: Response): IncomingMessage | undefined {
  return response.bodyUsed ? undefined : NODE_BODIES.get(response);
}

/** A Node response's headers as a fetch `Headers` (repeated headers appended); also the packer's upload fetch's. */
export function responseHeaders(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}

/** A web stream over `res` that reads nothing until it is read (high-water mark 0: no pull ahead). */
function lazyWebBody(res: IncomingMessage): ReadableStream<Uint8Array> {
  let it: AsyncIterator<Buffer> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        it ??= res[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
        const { done, value } = await it.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      cancel() {
        res.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

/** A GET (or HEAD) with headers and an AbortSignal: what the SDK sends for a file's content. */
export const downloadFetch: typeof fetch = (input, init) =>
  new Promise<Response>((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    const method = init?.method ?? 'GET';
    if ((method !== 'GET' && method !== 'HEAD') || init?.body != null || !/^https?:$/.test(url.protocol)) {
      fetch(input, init).then(resolve, reject);
      return;
    }
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
    req.once('close', () =>
      setImmediate(() =>
        reject(signal?.aborted ? signal.reason : new Error('downloadFetch: connection closed before a response')),
      ),
    );
    req.once('response', (res) => {
      res.once('close', () => signal?.removeEventListener('abort', onAbort));
      // A reset or an abort before anyone reads: the reader's iterator gets the error; this keeps it from being an
      // unhandled 'error' event meanwhile.
      res.on('error', () => undefined);
      const status = res.statusCode ?? 502;
      const empty = method === 'HEAD' || status === 204 || status === 304;
      if (empty) res.resume();
      const response = new Response(empty ? null : lazyWebBody(res), {
        status,
        statusText: res.statusMessage ?? '',
        headers: responseHeaders(res),
      });
      if (!empty) NODE_BODIES.set(response, res);
      resolve(response);
    });
    req.end();
  });
