/**
 * The fast path of `POST /v1/chat/completions` (issue 4): the plain, well-formed case — a known API key, a JSON body of
 * a declared length within MAX_BODY_BYTES, no content coding — is served straight from `node:http`, without express's
 * router and body-parser, which took a large share of intake CPU. It calls the same route core as the express route
 * and renders errors the same way (`ErrorReporter`), so a client cannot tell which path answered. Every other request
 * (no or bad key, other media types, chunked or compressed bodies, empty or oversized ones, other paths) is left to
 * express, which owns those answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tenant } from '@batchbridge/config';
import type { Runtime } from '@batchbridge/runtime';
import { tenantForAuthorization } from './auth.js';
import { CHAT_ENDPOINT, type ChatInput, type ChatReply } from './chat-completions-route.js';
import { ApiError } from './errors.js';
import { type HoldDeps, holdForOutcome } from './wait/hold.js';

/** Logs and counts an error the way the express error handler does; returns what to answer. */
export type ErrorReporter = (
  err: unknown,
  context: { route: string | undefined; tenant: Tenant | undefined; intake: boolean },
) => ApiError;

export interface ChatFastPathDeps {
  runtime: Runtime;
  accept: (input: ChatInput) => Promise<ChatReply>;
  reportError: ErrorReporter;
  /** Holds a request that waits for its outcome (transparent mode). */
  hold: HoldDeps;
  /** True once the server is shutting down: answers then close their connection. */
  closing: () => boolean;
}

/** JSON whitespace (RFC 8259), which body-parser's strict mode skips before the first character. */
const JSON_WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** Returns a handler that serves the request and answers true, or answers false and leaves it untouched. */
export function chatFastPath(deps: ChatFastPathDeps): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { runtime, accept, reportError, hold, closing } = deps;
  const maxBodyBytes = runtime.config.http.maxBodyBytes;
  const m = runtime.metrics.m;

  /**
   * Writes the answer and records its duration. Measured here rather than on the response's 'finish' event, and the
   * shutdown's `Connection: close` decided here rather than by a per-request 'close' listener in server.ts: such
   * listeners cost about a tenth of intake CPU.
   */
  const answer = (
    res: ServerResponse,
    start: bigint,
    status: number,
    headers: Record<string, string>,
    body: unknown,
  ) => {
    if (closing()) res.shouldKeepAlive = false;
    send(res, status, headers, body);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    m.httpRequestDuration.observe({ route: CHAT_ENDPOINT, status: `${Math.floor(status / 100)}xx` }, seconds);
  };
  const fail = (res: ServerResponse, start: bigint, tenant: Tenant, err: unknown) => {
    const e = reportError(err, { route: CHAT_ENDPOINT, tenant, intake: true });
    if (res.headersSent) {
      res.end();
      return;
    }
    answer(res, start, e.status, e.headers, e.toJSON());
  };

  return (req, res) => {
    if (req.method !== 'POST' || req.url !== CHAT_ENDPOINT) return false;
    const h = req.headers;
    if (h['transfer-encoding'] !== undefined || h['content-encoding'] !== undefined) return false;
    const type = h['content-type'];
    if (type !== 'application/json' && type?.toLowerCase() !== 'application/json; charset=utf-8') return false;
    const length = Number(h['content-length']);
    if (!(length > 0 && length <= maxBodyBytes)) return false;
    const tenant = tenantForAuthorization(runtime.tenants, h.authorization);
    if (!tenant) return false;
    // A request that waits for its outcome (transparent mode) is held here too: express's per-request state would be
    // kept for every held connection, for minutes (S7 in docs/benchmarks.md).

    const start = process.hrtime.bigint();
    let chunks: Buffer[] = [];
    const onData = (chunk: Buffer) => chunks.push(chunk);
    req.on('data', onData);
    req.once('error', (err) => fail(res, start, tenant, bodyReadError(err)));
    req.once('end', () => {
      req.off('data', onData);
      const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      // Nothing of the body outlives the enqueue: a held connection keeps its request object for minutes.
      chunks = [];
      let parsed: { body: unknown; text: string };
      try {
        parsed = parseJson(buf);
      } catch (err) {
        fail(res, start, tenant, err);
        return;
      }
      accept({ tenant, headers: h, body: parsed.body, rawText: parsed.text, hasBody: true }).then(
        (reply) => {
          if (!reply.wait) {
            answer(res, start, reply.status, reply.headers, reply.body);
            return;
          }
          holdForOutcome(res, reply.wait, hold, (status) => {
            if (status === 0) return;
            const seconds = Number(process.hrtime.bigint() - start) / 1e9;
            m.httpRequestDuration.observe({ route: CHAT_ENDPOINT, status: `${Math.floor(status / 100)}xx` }, seconds);
          });
        },
        (err: unknown) => fail(res, start, tenant, err),
      );
    });
    return true;
  };
}

/**
 * body-parser's strict JSON (what `express.json()` does): UTF-8 with a BOM dropped, an empty body is `{}`, and the first
 * non-whitespace character must open an object or an array. Answers the value and the text it was parsed from.
 */
function parseJson(buf: Buffer): { body: unknown; text: string } {
  const hasBom = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
  const text = buf.toString('utf8', hasBom ? 3 : 0);
  if (text.length === 0) return { body: {}, text: '{}' };
  let i = 0;
  while (i < text.length && JSON_WS.has(text.charCodeAt(i))) i++;
  const first = text[i];
  if (first !== '{' && first !== '[') throw jsonError();
  try {
    return { body: JSON.parse(text), text };
  } catch {
    throw jsonError();
  }
}

function jsonError(): ApiError {
  return new ApiError({
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_json',
    message: 'request body is not valid JSON (a JSON object is expected)',
  });
}

function bodyReadError(cause: unknown): ApiError {
  return new ApiError({
    status: 400,
    type: 'invalid_request_error',
    code: 'invalid_body',
    message: 'the request body could not be read',
    cause,
  });
}

/**
 * What express's `res.status(s).set(headers).json(body)` writes. The headers go to `writeHead` as one flat list, which
 * node writes as they are, without `setHeader`'s per-call bookkeeping.
 */
function send(res: ServerResponse, status: number, headers: Record<string, string>, body: unknown): void {
  const text = JSON.stringify(body);
  const list: string[] = [
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    `${Buffer.byteLength(text)}`,
  ];
  for (const name in headers) list.push(name, headers[name] as string);
  res.writeHead(status, list);
  res.end(text);
}
