// Owns one HTTP attempt to deliver a webhook (SPEC §4) and its classification: delivered, retry, gone (410) or
// refused by the address policy. The policy is enforced where the socket is opened — in the lookup the TCP connect
// uses and for IP literals just before connecting — so a name that resolved to a public address at intake and to
// 127.0.0.1 now (DNS rebinding) is still refused.

import { isIPv6, type LookupFunction } from 'node:net';
import { performance } from 'node:perf_hooks';
import { BatchbridgeError, parseRetryAfter } from '@batchbridge/errors';
import ipaddr from 'ipaddr.js';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { AddressPolicy } from './address-policy.js';
import { AddressRefusedError } from './errors.js';
import { type ResolveHost, resolveHostWithDns } from './resolve-host.js';

/** Options of {@link createWebhookSender}. */
export interface WebhookSenderOptions {
  /** Which addresses may be connected to; checked at connection time. */
  policy: AddressPolicy;
  /** Whole-attempt deadline: connect, send, response headers and the response snippet. @defaultValue 15000 */
  timeoutMs?: number;
  /** Bytes of the response body read (for logs); the rest is never read, the connection is dropped. @defaultValue 4096 */
  maxResponseBytes?: number;
  /** `User-Agent` header. @defaultValue `'batchbridge-webhooks/0.1'` */
  userAgent?: string;
  /** How host names are resolved at connection time. @defaultValue {@link resolveHostWithDns} */
  resolve?: ResolveHost;
}

/** One attempt: the signed headers and the exact body. */
export interface DeliveryRequest {
  url: string | URL;
  /** Usually the Standard Webhooks headers from `signWebhook`; `content-type` is always `application/json`. */
  headers: Readonly<Record<string, string>>;
  /** The exact body: a string is sent as its UTF-8. */
  body: string | Uint8Array;
}

/**
 * `delivered` (2xx), `retry` (other statuses incl. 3xx, timeouts, connection errors), `gone` (410: stop retrying),
 * `aborted` (a non-2xx answer with `webhook-delivery: abort-message`: stop retrying, SPEC §16), `refused` (the
 * address policy refused the host, or the URL is unusable: do not retry).
 */
export type DeliveryOutcome = 'delivered' | 'retry' | 'gone' | 'aborted' | 'refused';

/** What one attempt came to. */
export interface DeliveryResult {
  outcome: DeliveryOutcome;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  /** The receiver's `Retry-After`, in ms from now, capped at 24 h. */
  retryAfterMs?: number;
  /** A short description of the failure; never contains headers, secrets or the body. */
  error?: string;
  durationMs: number;
  /** The first `maxResponseBytes` of the response body, decoded as UTF-8. */
  responseSnippet?: string;
}

/** Sends webhook attempts over one connection pool. */
export interface WebhookSender {
  send(delivery: DeliveryRequest): Promise<DeliveryResult>;
  /** Closes the connection pool; idempotent. */
  close(): Promise<void>;
}

const MAX_ERROR_LENGTH = 200;

/** Creates a sender with its own undici `Agent`; redirects are never followed. */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { policy } = options;
  const timeoutMs = options.timeoutMs ?? 15_000;
  const maxResponseBytes = options.maxResponseBytes ?? 4096;
  const userAgent = options.userAgent ?? 'batchbridge-webhooks/0.1';
  const resolve = options.resolve ?? resolveHostWithDns;

  const agent = new Agent({
    connect: guardedConnector(policy, resolve, timeoutMs),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  const send = (delivery: DeliveryRequest): Promise<DeliveryResult> => {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let url: URL;
    try {
      url = delivery.url instanceof URL ? delivery.url : new URL(delivery.url);
    } catch {
      return Promise.resolve({ outcome: 'refused', error: 'invalid callback URL', durationMs: elapsed() });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.resolve({
        outcome: 'refused',
        error: `unsupported scheme ${url.protocol}`,
        durationMs: elapsed(),
      });
    }
    // undici's dispatch API: no response stream, no AbortController per attempt (thousands a second), the snippet
    // gathered from the data callbacks. The attempt ends at the first of: the response's end, an error, the snippet
    // limit (the connection is dropped), the deadline (the request is aborted, or never starts).
    return new Promise<DeliveryResult>((resolve) => {
      let controller: Dispatcher.DispatchController | undefined;
      let timedOut: AttemptTimeoutError | undefined;
      let status: number | undefined;
      let headers: Record<string, string | string[] | undefined> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (result: DeliveryResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const answered = () =>
        classify(
          status as number,
          headers,
          Buffer.concat(chunks).subarray(0, maxResponseBytes).toString('utf8'),
          elapsed(),
        );
      const timer = setTimeout(() => {
        timedOut = new AttemptTimeoutError(timeoutMs);
        controller?.abort(timedOut);
        // Answered but its snippet still coming: the status stands.
        settle(
          status !== undefined ? answered() : { outcome: 'retry', error: timedOut.message, durationMs: elapsed() },
        );
      }, timeoutMs);
      try {
        agent.dispatch(
          {
            origin: url.origin,
            path: url.pathname + url.search,
            method: 'POST',
            headers: requestHeaders(delivery.headers, userAgent),
            body: delivery.body,
          },
          {
            onRequestStart(c) {
              controller = c;
              if (timedOut) c.abort(timedOut);
            },
            onResponseStart(_c, statusCode, responseHeaders) {
              // 1xx informational answers come first: only the final status counts.
              if (statusCode < 200) return;
              status = statusCode;
              headers = responseHeaders;
            },
            onResponseData(c, chunk) {
              if (size >= maxResponseBytes) return;
              chunks.push(chunk);
              size += chunk.length;
              // Enough read: the rest is never read, the connection is dropped.
              if (size >= maxResponseBytes) {
                settle(answered());
                c.abort(new SnippetReadError());
              }
            },
            onResponseEnd() {
              settle(answered());
            },
            onResponseError(_c, error) {
              // The status is what the receiver decided; a snippet that cannot be read does not change it.
              if (status !== undefined) settle(answered());
              else settle(failure(error, timedOut, elapsed()));
            },
          },
        );
      } catch (error) {
        settle(failure(error, timedOut, elapsed()));
      }
    });
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= agent.close().catch(() => agent.destroy());
    return closing;
  };

  return { send, close };
}

class AttemptTimeoutError extends BatchbridgeError {
  constructor(timeoutMs: number) {
    super('webhooks.attempt_timeout', `timed out after ${timeoutMs} ms`);
  }
}

/** Ends an attempt whose response snippet is read in full (the rest of the body is never read). */
class SnippetReadError extends BatchbridgeError {
  constructor() {
    super('webhooks.snippet_read', 'response snippet read; connection dropped');
  }
}

// Lower-cased so that a caller's `Content-Type` cannot sit next to ours; the body is always JSON. A flat name, value
// list, which undici takes as it is (an object costs it a key listing per request).
function requestHeaders(headers: Readonly<Record<string, string>>, userAgent: string): string[] {
  const result: string[] = [];
  for (const name in headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type' || lower === 'user-agent') continue;
    result.push(lower, headers[name] as string);
  }
  result.push('content-type', 'application/json', 'user-agent', userAgent);
  return result;
}

function classify(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  snippet: string,
  durationMs: number,
): DeliveryResult {
  const base = { status, durationMs, ...(snippet !== '' ? { responseSnippet: snippet } : {}) };
  if (status >= 200 && status < 300) return { outcome: 'delivered', ...base };
  if (status === 410) return { outcome: 'gone', ...base, error: 'receiver answered 410 Gone' };
  if (isAbort(headers['webhook-delivery'])) {
    return { outcome: 'aborted', ...base, error: `receiver answered ${status} with webhook-delivery: abort-message` };
  }
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  const error =
    status >= 300 && status < 400
      ? `receiver answered ${status}; redirects are not followed`
      : `receiver answered ${status}`;
  return { outcome: 'retry', ...base, error, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

// The Standard Webhooks way for a receiver to say "never send this message again", whatever the status.
function isAbort(value: string | string[] | undefined): boolean {
  const values = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return values.some((v) => v.split(',').some((part) => part.trim().toLowerCase() === 'abort-message'));
}

function failure(error: unknown, timedOut: AttemptTimeoutError | undefined, durationMs: number): DeliveryResult {
  const refused = findInCauses(error, (e): e is AddressRefusedError => e instanceof AddressRefusedError);
  if (refused !== undefined) return { outcome: 'refused', error: refused.message, durationMs };
  if (timedOut !== undefined) return { outcome: 'retry', error: timedOut.message, durationMs };
  return { outcome: 'retry', error: describe(error), durationMs };
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return 'request failed';
  const code = (error as { code?: unknown }).code;
  const text = typeof code === 'string' && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

function findInCauses<T extends Error>(error: unknown, test: (e: unknown) => e is T): T | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (test(current)) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

// undici's default connector with two guards: names go through `policyLookup`, and IP literals (for which
// net.connect never calls lookup) are checked here before any socket is opened.
function guardedConnector(policy: AddressPolicy, resolve: ResolveHost, timeoutMs: number): buildConnector.connector {
  const connect = buildConnector({ lookup: policyLookup(policy, resolve), timeout: timeoutMs });
  return (options, callback) => {
    if (ipaddr.isValid(options.hostname)) {
      const verdict = policy.checkIp(options.hostname);
      if (!verdict.allowed) {
        callback(new AddressRefusedError(options.hostname, options.hostname, verdict.reason ?? 'refused'), null);
        return;
      }
    }
    connect(options, callback);
  };
}

function policyLookup(policy: AddressPolicy, resolve: ResolveHost): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (addresses) => {
        // Refuse the host when any of its addresses is refused, as intake does: which one net.connect would pick
        // (happy eyeballs) is not ours to predict.
        for (const address of addresses) {
          const verdict = policy.checkIp(address);
          if (!verdict.allowed) {
            callback(new AddressRefusedError(hostname, address, verdict.reason ?? 'refused'), '');
            return;
          }
        }
        const records = addresses
          .map((address) => ({ address, family: isIPv6(address) ? 6 : 4 }))
          .filter((record) => !options.family || record.family === options.family);
        const first = records[0];
        if (first === undefined) {
          callback(Object.assign(new Error(`no usable address for ${hostname}`), { code: 'ENOTFOUND' }), '');
        } else if (options.all) {
          callback(null, records);
        } else {
          callback(null, first.address, first.family);
        }
      },
      (error: unknown) => callback(error as NodeJS.ErrnoException, ''),
    );
  };
}
