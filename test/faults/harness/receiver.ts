/**
 * The callers' webhook endpoints, scripted per path: `/t/<tenant>/<behaviour>/` where behaviour is one of
 * {@link BEHAVIOURS}. A redirect points at `/internal/…` on the same loopback server; any hit there means a redirect
 * was followed. `setDown(true)` makes every path answer 503 (the receiver is "down for a while").
 */
import { type ReceivedWebhook, startWebhookReceiver, type WebhookReceiver } from '@batchbridge/testkit';

export const BEHAVIOURS = ['ok', 'slow', 'flaky', 'gone', 'redirect', 'huge'] as const;
export type Behaviour = (typeof BEHAVIOURS)[number];

export interface ScriptedReceiverOptions {
  /** Tenant id → its webhook secrets (all of them during a rotation). */
  secrets: Record<string, readonly string[]>;
  /** The sender's timeout: the first attempt to a `slow` path waits longer than this. */
  senderTimeoutMs: number;
  /** Size of the body a `huge` path answers with. */
  hugeBodyBytes: number;
}

export interface ScriptedReceiver {
  receiver: WebhookReceiver;
  url(tenant: string, behaviour: Behaviour): string;
  setDown(down: boolean): void;
  /** Deliveries answered with a 2xx by this receiver (what a caller would process). */
  accepted(): ReadonlySet<ReceivedWebhook>;
  /** Deliveries answered 410. */
  gone(): ReadonlySet<ReceivedWebhook>;
  /** Hits on the redirect target: must stay 0 (redirects are not followed). */
  internalHits(): number;
  /** 503s sent while down. */
  downAnswers(): number;
}

export function parsePath(path: string): { tenant: string; behaviour: Behaviour } | undefined {
  const m = /^\/t\/([^/]+)\/([a-z]+)\//.exec(path);
  if (!m || !(BEHAVIOURS as readonly string[]).includes(m[2] ?? '')) return undefined;
  return { tenant: m[1] as string, behaviour: m[2] as Behaviour };
}

export async function startScriptedReceiver(options: ScriptedReceiverOptions): Promise<ScriptedReceiver> {
  let down = false;
  let downAnswers = 0;
  let internalHits = 0;
  const attempts = new Map<string, number>();
  const accepted = new Set<ReceivedWebhook>();
  const gone = new Set<ReceivedWebhook>();
  const hugeBody = 'x'.repeat(options.hugeBodyBytes);
  let base = '';

  const receiver = await startWebhookReceiver({
    secrets: (path) => {
      const parsed = parsePath(path);
      return parsed ? options.secrets[parsed.tenant] : undefined;
    },
    respond: (delivery) => {
      if (delivery.path.startsWith('/internal/')) {
        internalHits += 1;
        return { status: 200 };
      }
      const n = (attempts.get(delivery.webhookId) ?? 0) + 1;
      attempts.set(delivery.webhookId, n);
      if (down) {
        downAnswers += 1;
        return { status: 503, headers: { 'retry-after': '1' } };
      }
      const ok = () => {
        accepted.add(delivery);
        return { status: 200 } as const;
      };
      switch (parsePath(delivery.path)?.behaviour) {
        case 'ok':
          return ok();
        case 'slow':
          // First attempt outlasts the sender's timeout (it must retry, same webhook-id); later ones are just slow.
          return n === 1 ? { status: 200, delayMs: options.senderTimeoutMs + 500 } : { ...ok(), delayMs: 400 };
        case 'flaky':
          return n <= 2 ? { status: 500 } : ok();
        case 'gone':
          gone.add(delivery);
          return { status: 410 };
        case 'redirect':
          return { status: 302, headers: { location: `${base}/internal/steal?from=${delivery.webhookId}` } };
        case 'huge':
          accepted.add(delivery);
          return { status: 200, headers: { 'content-type': 'text/plain' }, body: hugeBody };
        default:
          return { status: 404 };
      }
    },
  });
  base = receiver.url('').replace(/\/$/, '');

  return {
    receiver,
    url: (tenant, behaviour) => receiver.url(`/t/${tenant}/${behaviour}/`),
    setDown: (value) => {
      down = value;
    },
    accepted: () => accepted,
    gone: () => gone,
    internalHits: () => internalHits,
    downAnswers: () => downAnswers,
  };
}
