/**
 * `pnpm demo [--count N] [--concurrency C] [--timeout-s S] [--wait] [--endpoint chat|embeddings|responses|…]`: starts everything (embedded Redis or the local
 * one, the provider simulator, every service) plus a local webhook receiver that verifies signatures, submits N prompts,
 * waits for every outcome and prints a summary. Exits 0 only when every accepted request was delivered once, verified,
 * with the completion that belongs to it. With `--wait` (transparent mode, SPEC §8) the prompts are sent as an
 * unchanged OpenAI client would, with `Prefer: wait` and no callback URL, and each answer is the completion itself.
 */
import { parseArgs } from 'node:util';
import { webhookSecrets } from '@batchbridge/config';
import { createLogger } from '@batchbridge/logger';
import {
  simulatedCompletion,
  simulatedEmbeddings,
  simulatedModeration,
  simulatedResponse,
  simulatedTextCompletion,
} from '@batchbridge/provider-sim';
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
    endpoint: { type: 'string', default: 'chat' },
  },
});
/** What `--endpoint` takes: the batchable endpoints (SPEC §9). */
const ENDPOINTS = {
  chat: '/v1/chat/completions',
  embeddings: '/v1/embeddings',
  responses: '/v1/responses',
  completions: '/v1/completions',
  moderations: '/v1/moderations',
} as const;
type EndpointName = keyof typeof ENDPOINTS;
const endpointName = values.endpoint as EndpointName;
if (!(endpointName in ENDPOINTS)) {
  process.stderr.write(`--endpoint must be one of ${Object.keys(ENDPOINTS).join(', ')}\n`);
  process.exit(2);
}
const endpointPath = ENDPOINTS[endpointName];
const count = Number(values.count);
const waitMode = values.wait === true;
// Waiting clients hold their connection until the batch returns: they all go at once, as separate clients would.
const concurrency = waitMode && values.concurrency === '16' ? count : Number(values.concurrency);
const timeoutMs = Number(values['timeout-s']) * 1000;
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(concurrency) || concurrency < 1 || !(timeoutMs > 0)) {
  process.stderr.write(
    'usage: pnpm demo [--count N≥1] [--concurrency C≥1] [--timeout-s S>0] [--wait] [--endpoint chat|embeddings|responses|completions|moderations]\n',
  );
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
  `batchbridge demo: ${count} prompts → ${embedded.url}${endpointPath} → ${embedded.sim ? 'simulator' : 'upstream'} → ${
    waitMode ? 'the answers themselves (Prefer: wait)' : receiver.url('/hook')
  }`,
);

const prompts = Array.from({ length: count }, (_, i) => demoBody(endpointName, i));

/** The request body of prompt `i` for the endpoint. */
function demoBody(endpoint: EndpointName, i: number): Record<string, unknown> {
  const text = `Demo prompt #${i + 1}: name one interesting fact about the number ${i + 1}.`;
  switch (endpoint) {
    case 'chat':
      return {
        model: 'gpt-4o-mini',
        messages: [
          { role: 'system', content: 'You are a concise assistant.' },
          { role: 'user', content: text },
        ],
        max_completion_tokens: 64,
      };
    case 'embeddings':
      return { model: 'text-embedding-3-small', input: text, encoding_format: 'float' };
    case 'responses':
      return { model: 'gpt-4o-mini', input: text, instructions: 'Be concise.' };
    case 'completions':
      return { model: 'gpt-3.5-turbo-instruct', prompt: text, max_tokens: 32 };
    case 'moderations':
      return { model: 'omni-moderation-latest', input: text };
  }
}

/**
 * What identifies the answer to a request, for the routing check: the text for chat, Responses and completions, the
 * vector for embeddings, the results for moderations. `created` fields and ids aside, the simulator is deterministic.
 */
function answerKey(endpoint: EndpointName, body: unknown): string | undefined {
  const b = body as Record<string, unknown> | undefined;
  if (!b) return undefined;
  switch (endpoint) {
    case 'chat':
      return (b.choices as Array<{ message?: { content?: string } }> | undefined)?.[0]?.message?.content;
    case 'completions':
      return (b.choices as Array<{ text?: string }> | undefined)?.[0]?.text;
    case 'embeddings':
      return JSON.stringify((b.data as Array<{ embedding?: unknown }> | undefined)?.[0]?.embedding);
    case 'responses': {
      const output = b.output as Array<{ content?: Array<{ text?: string }> }> | undefined;
      return output?.[0]?.content?.[0]?.text;
    }
    case 'moderations':
      return JSON.stringify(b.results);
  }
}

/** The simulator's own answer to `body`, as answerKey reads it. */
function expectedKey(endpoint: EndpointName, body: Record<string, unknown>): string {
  const answer: unknown =
    endpoint === 'chat'
      ? simulatedCompletion(body as never)
      : endpoint === 'embeddings'
        ? simulatedEmbeddings(body as never)
        : endpoint === 'responses'
          ? simulatedResponse(body as never)
          : endpoint === 'completions'
            ? simulatedTextCompletion(body as never)
            : simulatedModeration(body as never);
  return answerKey(endpoint, answer) ?? '';
}

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
    const res = await fetch(`${embedded.url}${endpointPath}`, {
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
    const json = (await res.json()) as { id?: string; object?: string; error?: { message: string } };
    const requestId = res.headers.get('x-request-id');
    if (waitMode && res.status === 200 && json.object !== 'batchbridge.request' && requestId) {
      acceptedAt.set(requestId, sentAt);
      expected.set(requestId, expectedKey(endpointName, body));
      answered.set(requestId, {
        type: 'request.completed',
        content: answerKey(endpointName, json),
        at: Date.now(),
        verified: true,
      });
    } else if (!waitMode && res.status === 202 && json.id) {
      acceptedAt.set(json.id, Date.now());
      expected.set(json.id, expectedKey(endpointName, body));
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
  const event = d.json as { type: string; data: { id: string; response?: { body?: unknown } } };
  outcomes.set(event.data.id, {
    type: event.type,
    content: answerKey(endpointName, event.data.response?.body),
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
