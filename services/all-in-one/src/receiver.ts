/**
 * `pnpm receiver [--port 9999] [--host 127.0.0.1]`: a local webhook receiver for `pnpm start`. It verifies each
 * delivery's Standard Webhooks signature with the same secret `pnpm start` uses — the dev tenant's, kept in
 * `<data dir>/dev-tenant.json` (REDIS_DATA_DIR's parent, `.data` by default), or every tenant's of TENANTS_FILE — and
 * prints one line per verified event. It answers 204 to a verified delivery and 401 (with a warning) to any other, as a
 * real receiver must. The secret file is read on every delivery, so the receiver may start before `pnpm start` has
 * created it; it never creates it (that would make `pnpm start` take the old shared key prefix, see key-prefix.ts).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { WebhookEvent } from '@batchbridge/client';
import { parseTenants, webhookSecrets } from '@batchbridge/config';
import { type ReceivedWebhook, startWebhookReceiver } from '@batchbridge/webhooks';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '9999' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  process.stderr.write('usage: pnpm receiver [--port 0-65535] [--host ADDRESS]\n');
  process.exit(2);
}

const tenantsFile = process.env.TENANTS_FILE || undefined;
const secretsFile = tenantsFile ?? join(dirname(process.env.REDIS_DATA_DIR ?? '.data/redis'), 'dev-tenant.json');

function secrets(): string[] {
  try {
    return parseTenants(readFileSync(secretsFile, 'utf8'), secretsFile).flatMap(webhookSecrets);
  } catch {
    return [];
  }
}

/** `<webhook-id> <event type> <status> custom_id=<…> "<first 60 characters of the answer or the error>"`. */
function describe(delivery: ReceivedWebhook): string {
  const event = delivery.json as Partial<WebhookEvent> | undefined;
  const data = event?.data;
  const body = data?.response?.body as { choices?: Array<{ message?: { content?: unknown } }> } | undefined;
  const content = body?.choices?.[0]?.message?.content;
  const text = typeof content === 'string' ? content : (data?.error?.message ?? '');
  const preview = text.length > 60 ? `${text.slice(0, 59)}…` : text;
  return [
    delivery.webhookId || '(no webhook-id)',
    event?.type ?? '(not an event)',
    data?.status ?? '-',
    `id=${data?.id ?? '-'}`,
    `custom_id=${data?.custom_id ?? '-'}`,
    JSON.stringify(preview.replace(/\s+/g, ' ')),
  ].join(' ');
}

const receiver = await startWebhookReceiver({
  host: values.host,
  port,
  secrets: () => secrets(),
  respond: (delivery) => (delivery.verified ? { status: 204 } : { status: 401 }),
  onDelivery: (delivery) => {
    if (delivery.verified) {
      process.stdout.write(`verified ${describe(delivery)}\n`);
    } else {
      process.stderr.write(
        `WARNING: bad signature (${delivery.verifyError ?? 'unknown'}) on ${delivery.webhookId || 'a delivery'}, ` +
          `secrets from ${secretsFile}; answered 401\n`,
      );
    }
  },
});
process.stdout.write(
  `batchbridge receiver: POST webhooks to ${receiver.url('/hook')} (secrets from ${secretsFile}); Ctrl-C stops\n`,
);
const stop = () => {
  void receiver.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
