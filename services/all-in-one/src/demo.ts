/**
 * `pnpm demo [--count N] [--concurrency C] [--timeout-s S] [--wait]`: starts everything (embedded Redis or the local
 * one, the provider simulator, every service) plus a local webhook receiver that verifies signatures, submits N prompts,
 * waits for every outcome and prints a summary. Exits 0 only when every accepted request was delivered once, verified,
 * with the completion that belongs to it. With `--wait` (transparent mode, SPEC §8) the prompts are sent as an
 * unchanged OpenAI client would, with `Prefer: wait` and no callback URL, and each answer is the completion itself.
 */
import { parseArgs } from 'node:util';
import { webhookSecrets } from '@batchbridge/config';
import { createLogger } from '@batchbridge/logger';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { startWebhookReceiver } from '@batchbridge/webhooks';
import type { Redis } from 'ioredis';
import { startEmbedded } from './embedded.js';
import { createProgress } from './progress.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: process.env.DEMO_COUNT ?? '200' },
    concurrency: { type: 'string', default: '16' },
    'timeout-s': { type: 'string', default: '180' },
    wait: { type: 'boolean', default: false },
  },
});
const count = Number(values.count);
const waitMode = values.wait === true;
// Waiting clients hold their connection until the batch returns: they all go at once, as separate clients would.
const concurrency = waitMode && values.concurrency === '16' ? count : Number(values.concurrency);
const timeoutMs = Number(values['timeout-s']) * 1000;
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1 || !(timeoutMs > 0)) {
  process.stderr.write('usage: pnpm demo [--count N≥1] [--concurrency C≥1] [--timeout-s S>0] [--wait]\n');
  process.exit(2);
}

// Demo pacing: small batches and quick polls so that a laptop run shows several batches within seconds.
const env = {
  PORT: '0',
  LOG_LEVEL: 'warn',
  // A prefix of its own per run: a demo never mixes with a running `pnpm start` or an earlier demo.
  REDIS_KEY_PREFIX: `bbdemo${Date.now().toString(36)}`,
  BATCH_MAX_REQUESTS: String(Math.max(10, Math.ceil(count / 4))),
  BATCH_MAX_WAIT_MS: '1500',
  POLL_INTERVAL_MS: '250',
  POLL_MAX_INTERVAL_MS: '1000',
  SIM_VALIDATING_MS: '300',
  SIM_FINALIZING_MS: '300',
  WEBHOOK_RETRY_SCHEDULE: '1s,2s,5s',
  ...process.env,
};

const logger = createLogger({ service: 'batchbridge-demo', level: env.LOG_LEVEL ?? 'warn' });
const started = Date.now();
const embedded = await startEmbedded({ env, logger });
const tenant = embedded.devTenant ?? embedded.runtime.tenants.tenants[0];
if (!tenant) throw new Error('no tenant configured');
const apiKey = tenant.api_keys[0]!;
const receiver = await startWebhookReceiver({ secrets: webhookSecrets(tenant) });
const say = (line: string) => process.stdout.write(`${line}\n`);
say(
  `batchbridge demo: ${count} prompts → ${embedded.url}/v1 → ${embedded.sim ? 'simulator' : 'upstream'} → ${
    waitMode ? 'the answers themselves (Prefer: wait)' : receiver.url('/hook')
  }`,
);

const prompts = Array.from({ length: count }, (_, i) => ({
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a concise assistant.' },
    { role: 'user', content: `Demo prompt #${i + 1}: name one interesting fact about the number ${i + 1}.` },
  ],
  max_completion_tokens: 64,
}));

const acceptedAt = new Map<string, number>();
/** The answers themselves (--wait), in the shape of an outcome. */
const answered = new Map<string, { type: string; content: string | undefined; at: number; verified: boolean }>();
const outcomeCount = () => (waitMode ? answered.size : receiver.uniqueByWebhookId().length);
const expected = new Map<string, string>();
let rejected = 0;
const progress = createProgress(count);
let next = 0;
async function submitter() {
  while (next < prompts.length) {
    const i = next++;
    const body = prompts[i]!;
    const sentAt = Date.now();
    const res = await fetch(`${embedded.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        ...(waitMode
          ? { prefer: `wait=${Math.floor(timeoutMs / 1000)}` }
          : { 'x-callback-url': receiver.url('/hook'), 'x-custom-id': `demo-${i + 1}` }),
      },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as {
      id?: string;
      object?: string;
      choices?: Array<{ message?: { content?: string } }>;
      error?: { message: string };
    };
    const requestId = res.headers.get('x-request-id');
    if (waitMode && res.status === 200 && json.object === 'chat.completion' && requestId) {
      acceptedAt.set(requestId, sentAt);
      expected.set(requestId, simulatedCompletion(body).choices[0]?.message.content ?? '');
      answered.set(requestId, {
        type: 'request.completed',
        content: json.choices?.[0]?.message?.content,
        at: Date.now(),
        verified: true,
      });
    } else if (!waitMode && res.status === 202 && json.id) {
      acceptedAt.set(json.id, Date.now());
      expected.set(json.id, simulatedCompletion(body).choices[0]?.message.content ?? '');
    } else {
      rejected += 1;
      logger.warn({ status: res.status, error: json.error?.message }, 'request refused');
    }
    progress.update(acceptedAt.size + rejected, outcomeCount());
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, submitter));
const lastAccept = Date.now();

const deadline = Date.now() + timeoutMs;
while (outcomeCount() < acceptedAt.size && Date.now() < deadline) {
  progress.update(acceptedAt.size + rejected, outcomeCount());
  await new Promise((r) => setTimeout(r, 200));
}
progress.update(acceptedAt.size + rejected, outcomeCount());
progress.stop();

// Check what arrived: one outcome per accepted request, signed, with the completion that belongs to that request.
const outcomes = new Map(answered);
for (const d of receiver.uniqueByWebhookId()) {
  const event = d.json as {
    type: string;
    data: { id: string; response?: { body?: { choices?: Array<{ message?: { content?: string } }> } } };
  };
  outcomes.set(event.data.id, {
    type: event.type,
    content: event.data.response?.body?.choices?.[0]?.message?.content,
    at: d.receivedAt.getTime(),
    verified: d.verified,
  });
}
const turnaround: number[] = [];
let completed = 0;
let failed = 0;
let wrongContent = 0;
let unverified = 0;
let missing = 0;
for (const [id, at] of acceptedAt) {
  const o = outcomes.get(id);
  if (!o) {
    missing += 1;
    continue;
  }
  if (!o.verified) unverified += 1;
  if (o.type === 'request.completed') {
    completed += 1;
    if (o.content !== expected.get(id)) wrongContent += 1;
  } else failed += 1;
  turnaround.push(o.at - at);
}
turnaround.sort((a, b) => a - b);
const pct = (p: number) => turnaround[Math.min(turnaround.length - 1, Math.floor((p / 100) * turnaround.length))] ?? 0;
const deliveries = receiver.deliveries().length;
const batches = embedded.sim?.counters().batchesCreated;

say('');
say('Summary');
say(`  accepted          ${acceptedAt.size} of ${count}${rejected ? ` (${rejected} refused)` : ''}`);
say(`  provider batches  ${batches ?? 'n/a (external provider)'}`);
say(`  completed         ${completed}`);
say(`  failed            ${failed}`);
say(`  missing           ${missing}`);
if (waitMode) say(`  answers           ${answered.size} completions in the responses themselves (no webhook)`);
else {
  say(`  deliveries        ${deliveries} (${deliveries - outcomes.size} retries or duplicates, deduped by webhook-id)`);
  say(`  signatures        ${outcomes.size - unverified} verified, ${unverified} not`);
}
say(`  routing           ${completed - wrongContent} completions match their prompt, ${wrongContent} do not`);
say(
  `  turnaround        p50 ${(pct(50) / 1000).toFixed(2)} s, p95 ${(pct(95) / 1000).toFixed(2)} s (${
    waitMode ? 'sent → answered' : 'accepted → delivered'
  })`,
);
say(
  `  wall time         ${((Date.now() - started) / 1000).toFixed(1)} s (${((Date.now() - lastAccept) / 1000).toFixed(1)} s after the last accept)`,
);

await receiver.close();
await removeDemoKeys();
await embedded.close();
async function removeDemoKeys(): Promise<void> {
  const r = embedded.runtime.redis;
  // Let in-flight jobs settle before their keys disappear.
  for (const s of embedded.services) await s.close();
  // A Cluster has no scanStream of its own: scan every master (each unlink stays within one partition's slot).
  const nodes = 'nodes' in r && typeof r.nodes === 'function' ? r.nodes('master') : [r as Redis];
  for (const node of nodes) {
    for await (const keys of node.scanStream({
      match: `{${embedded.config.redis.keyPrefix}:*`,
      count: 1000,
    }) as AsyncIterable<string[]>) {
      await Promise.all(keys.map((key) => node.unlink(key)));
    }
  }
}

const ok = missing === 0 && unverified === 0 && wrongContent === 0 && rejected === 0 && failed === 0;
const okLine = waitMode
  ? '\nOK: every request answered in its own response, with its own result.'
  : '\nOK: every request answered once, signed, with its own result.';
say(ok ? okLine : '\nFAILED: see the summary above.');
process.exit(ok ? 0 : 1);
