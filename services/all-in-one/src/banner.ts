/** What `pnpm start` prints: where the API is, the dev tenant's key and secret, and a curl line to paste. */
import { webhookSecrets } from '@batchbridge/config';
import { redactRedisUrl } from '@batchbridge/redis';
import type { Embedded } from './embedded.js';

export { redactRedisUrl };

/** Where `pnpm receiver` listens by default (services/all-in-one/src/receiver.ts). */
export const RECEIVER_URL = 'http://127.0.0.1:9999/hook';

export function banner(e: Embedded): string {
  const lines = [
    '',
    'batchbridge is running (all services in one process)',
    `  API            ${e.url}/v1   (docs: ${e.url}/docs, metrics: ${e.url}/metrics)`,
    `  Redis          ${redactRedisUrl(e.redis.url)} (${e.redis.source})`,
    `  Provider       ${e.sim ? `${e.sim.url} (bundled simulator, profile ${e.sim.profile})` : e.config.upstream.baseUrl}`,
    `  Batching       a request is sent upstream within ${formatMs(e.config.batch.maxWaitMs)} (BATCH_MAX_WAIT_MS) or once ${e.config.batch.maxRequests} are queued`,
  ];
  if (e.config.adminKey) lines.push(`  Operator page  ${e.url}/admin   (log in with ADMIN_KEY)`);
  if (e.devTenant) {
    const key = e.devTenant.api_keys[0] ?? '';
    lines.push(
      `  Dev API key    ${key}`,
      `  Webhook secret ${webhookSecrets(e.devTenant)[0]}`,
      '',
      `Try it: the callback ${RECEIVER_URL} is \`pnpm receiver\` (run it in another terminal; it prints each verified`,
      `webhook). Callbacks may go to WEBHOOK_ALLOW_CIDRS=${e.config.webhook.allowCidrs.join(',') || '(public addresses only)'}.`,
      `  curl -s ${e.url}/v1/chat/completions \\`,
      `    -H 'Authorization: Bearer ${key}' -H 'Content-Type: application/json' \\`,
      `    -H 'X-Callback-URL: ${RECEIVER_URL}' \\`,
      `    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}'`,
    );
  } else {
    lines.push('  Tenants        from TENANTS_FILE');
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  return lines.join('\n');
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
