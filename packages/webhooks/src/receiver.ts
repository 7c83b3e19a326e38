// A real webhook receiver for `pnpm demo`, `pnpm receiver` and the end-to-end tests: a node:http server (127.0.0.1 by
// default) that records every delivery, verifies its Standard Webhooks signature with the reference library, and answers
// as its caller scripts it. It lives here, not in @batchbridge/testkit, because the demo ships in the production bundle
// and testkit (testcontainers and friends) must not.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** One request the receiver got, as it arrived. */
export interface ReceivedWebhook {
  /** Request path with query string, e.g. `/hooks/tenant-a`. */
  path: string;
  /** Request headers, lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  /** The raw body. */
  body: string;
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  json: unknown;
  /** The `webhook-id` header, `''` when absent. */
  webhookId: string;
  /** Whether `Webhook.verify` accepted the signature with one of the secrets for this path. */
  verified: boolean;
  /** Why verification failed, when it did. */
  verifyError?: string;
  receivedAt: Date;
}

/** What the receiver answers to one delivery. */
export interface WebhookResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering (to provoke sender timeouts). */
  delayMs?: number;
}

/** Decides the answer to a delivery; may be async. */
export type WebhookResponder = (delivery: ReceivedWebhook) => WebhookResponse | Promise<WebhookResponse>;

/** Options of {@link startWebhookReceiver}. */
export interface WebhookReceiverOptions {
  /** Secrets to verify with (any one may match), or a function from the request path to its secret(s). */
  secrets: readonly string[] | ((path: string) => string | readonly string[] | undefined);
  /** How to answer. @defaultValue always `{ status: 200 }` */
  respond?: WebhookResponder;
  /** Address to listen on. @defaultValue `'127.0.0.1'` */
  host?: string;
  /** Port to listen on; 0 picks a free one. @defaultValue `0` */
  port?: number;
  /** Called after each delivery is recorded, before it is answered. */
  onDelivery?: (delivery: ReceivedWebhook) => void;
}

/** Options of {@link WebhookReceiver.waitFor}. */
export interface WaitForOptions {
  /** Reject after this long. @defaultValue 10000 */
  timeoutMs?: number;
}

/** A running receiver. */
export interface WebhookReceiver {
  /** `http://<host>:<port><path>`. */
  url(path?: string): string;
  /** Every delivery so far, in arrival order (a copy). */
  deliveries(): ReceivedWebhook[];
  /** The first delivery of each `webhook-id`: what a receiver that dedupes would process. */
  uniqueByWebhookId(): ReceivedWebhook[];
  /** Resolves with all deliveries once `predicate(deliveries)` holds; rejects after `timeoutMs`. */
  waitFor(
    predicate: (deliveries: readonly ReceivedWebhook[]) => boolean,
    options?: WaitForOptions,
  ): Promise<ReceivedWebhook[]>;
  /** Replaces the responder for later deliveries. */
  setResponder(respond: WebhookResponder): void;
  /** Stops the server and drops open connections; idempotent. */
  close(): Promise<void>;
}

/** Starts a receiver, on 127.0.0.1 and a free port unless told otherwise. */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const host = options.host ?? '127.0.0.1';
  const received: ReceivedWebhook[] = [];
  const waiters = new Set<() => void>();
  const pendingDelays = new Set<NodeJS.Timeout>();
  let respond: WebhookResponder = options.respond ?? (() => ({ status: 200 }));

  const secretsFor = (path: string): readonly string[] => {
    const found = typeof options.secrets === 'function' ? options.secrets(path) : options.secrets;
    if (found === undefined) return [];
    return typeof found === 'string' ? [found] : found;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '/';
    const headers = flattenHeaders(req);
    const verification = verify(body, headers, secretsFor(path));
    const delivery: ReceivedWebhook = {
      path,
      headers,
      body,
      json: parseJson(body),
      webhookId: headers['webhook-id'] ?? '',
      verified: verification === undefined,
      ...(verification !== undefined ? { verifyError: verification } : {}),
      receivedAt: new Date(),
    };
    received.push(delivery);
    for (const wake of [...waiters]) wake();
    options.onDelivery?.(delivery);

    const answer = await respond(delivery);
    if (answer.delayMs !== undefined && answer.delayMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          pendingDelays.delete(timer);
          resolve();
        }, answer.delayMs);
        pendingDelays.add(timer);
      });
    }
    if (res.destroyed) return;
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(error instanceof Error ? error.message : 'receiver error');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  const waitFor = (
    predicate: (deliveries: readonly ReceivedWebhook[]) => boolean,
    waitOptions: WaitForOptions = {},
  ): Promise<ReceivedWebhook[]> => {
    const timeoutMs = waitOptions.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!predicate(received)) return false;
        finish();
        resolve([...received]);
        return true;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`webhook receiver: condition not met within ${timeoutMs} ms (${received.length} deliveries)`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(wake);
      };
      const wake = () => {
        check();
      };
      waiters.add(wake);
      check();
    });
  };

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of pendingDelays) clearTimeout(timer);
      pendingDelays.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  return {
    url: (path = '/') =>
      `http://${host.includes(':') ? `[${host}]` : host}:${port}${path.startsWith('/') ? path : `/${path}`}`,
    deliveries: () => [...received],
    uniqueByWebhookId: () => {
      const seen = new Set<string>();
      return received.filter((delivery) => {
        if (seen.has(delivery.webhookId)) return false;
        seen.add(delivery.webhookId);
        return true;
      });
    },
    waitFor,
    setResponder: (next) => {
      respond = next;
    },
    close,
  };
}

// Returns undefined when one of the secrets verifies, else the last library error.
function verify(body: string, headers: Record<string, string>, secrets: readonly string[]): string | undefined {
  if (secrets.length === 0) return 'no secret configured for this path';
  let lastError = 'no secret matched';
  for (const secret of secrets) {
    try {
      new Webhook(secret).verify(body, headers, { jsonParse: false });
      return undefined;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    }
  }
  return lastError;
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}
