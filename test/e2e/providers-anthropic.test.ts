// An OpenAI-compatible provider and Anthropic Message Batches behind one deployment (SPEC §11, issue 19): two
// simulators at once on real HTTP — the OpenAI mode and the Anthropic mode — and PROVIDERS_FILE routing by model. The
// client is the official `openai` SDK, unchanged but for its base URL (transparent mode, `Prefer: wait`), with a
// callback URL too. What a user observes: GPT requests reach the OpenAI simulator and Claude requests the Anthropic
// one (translated to Messages and back), every answer is a `chat.completion` the caller cannot tell from OpenAI's,
// every outcome webhook is signed and arrives once; requests the translation cannot carry are refused at the door.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromAnthropicMessage, toAnthropicParams } from '@batchbridge/provider/anthropic';
import { createProviderSim, type ProviderSim, simulatedCompletion } from '@batchbridge/provider-sim';
import { type AnthropicSim, createAnthropicSim, simulatedMessage } from '@batchbridge/provider-sim/anthropic';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline, submit } from './helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const dir = mkdtempSync(join(tmpdir(), 'bb-anthropic-e2e-'));
const HAIKU = 'claude-haiku-4-5-20251001';
const SONNET = 'claude-sonnet-4-5-20250929';
const DEFAULT_MAX_TOKENS = 512;

let openai: ProviderSim;
let anthropic: AnthropicSim;
let pipeline: Pipeline;
let receiver: WebhookReceiver;

beforeAll(async () => {
  openai = await createProviderSim({
    profile: 'openai',
    timings: { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 },
    models: ['gpt-4o-mini'],
  });
  anthropic = await createAnthropicSim({ processingMs: 100, cancellingMs: 0, apiKeys: ['sk-ant-e2e'] });
  const providersFile = join(dir, 'providers.json');
  writeFileSync(
    providersFile,
    JSON.stringify({
      providers: [
        { id: 'oa', profile: 'openai', base_url: openai.url, api_key: 'sk-oa', models: ['gpt-4o-mini'], priority: 10 },
        {
          id: 'claude',
          profile: 'anthropic',
          base_url: anthropic.url,
          api_key_env: 'ANTHROPIC_KEY',
          models: ['claude-*'],
          aliases: { 'claude-fast': HAIKU },
          default_max_tokens: DEFAULT_MAX_TOKENS,
          priority: 20,
        },
      ],
    }),
  );
  pipeline = await startPipeline({
    PROVIDERS_FILE: providersFile,
    ANTHROPIC_KEY: 'sk-ant-e2e',
    BATCH_MAX_REQUESTS: '5',
  });
  receiver = await startWebhookReceiver({ secrets: () => [String(TEST_TENANTS[0]!.webhook_secret)] });
});
afterAll(async () => {
  await receiver?.close();
  await pipeline?.dispose();
  await openai?.close();
  await anthropic?.close();
  rmSync(dir, { recursive: true, force: true });
});

const sdk = (path: string) =>
  new OpenAI({
    baseURL: `${pipeline.url}/v1`,
    apiKey: ACME_KEY,
    maxRetries: 0,
    defaultHeaders: { Prefer: 'wait=60', 'X-Callback-URL': receiver.url(path) },
  });

/** What the Anthropic simulator answers a chat body sent to `providerModel`, as the chat.completion a caller gets. */
function expectedFromClaude(body: Parameters<typeof toAnthropicParams>[0], providerModel: string) {
  const params = toAnthropicParams(body, { defaultMaxTokens: DEFAULT_MAX_TOKENS, model: providerModel });
  return fromAnthropicMessage(simulatedMessage(params as never) as Parameters<typeof fromAnthropicMessage>[0]);
}

interface Delivered {
  type: string;
  data: { id: string; status: string; model: string; response: { status_code: number; body: Record<string, unknown> } };
}

function deliveredAt(prefix: string): Delivered[] {
  const out: Delivered[] = [];
  for (const d of receiver.uniqueByWebhookId()) {
    if (!d.path.startsWith(prefix)) continue;
    expect(d.verified).toBe(true);
    out.push(d.json as Delivered);
  }
  return out;
}

describe('OpenAI and Anthropic providers behind one deployment', () => {
  it('routes GPT and Claude by model; Claude answers come back as chat.completions, signed, once', async () => {
    const gptBodies = Array.from({ length: 4 }, (_, i) => ({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user' as const, content: `gpt ${i}: name a colour` }],
    }));
    const claudeBodies = [
      ...Array.from({ length: 5 }, (_, i) => ({
        model: 'claude-fast',
        messages: [
          { role: 'system' as const, content: 'Answer in one word.' },
          { role: 'user' as const, content: `claude ${i}: name a colour` },
        ],
        max_tokens: 200,
        temperature: 0.2,
      })),
      // No token limit: the provider's default_max_tokens; a stop sequence cuts the answer.
      { model: SONNET, messages: [{ role: 'user' as const, content: 'a sonnet, stop at re' }], stop: [' re:'] },
    ];
    const toolBody = {
      model: SONNET,
      messages: [{ role: 'user' as const, content: 'what time is it?' }],
      max_completion_tokens: 100,
      tools: [
        {
          type: 'function' as const,
          function: { name: 'now', description: 'the time', parameters: { type: 'object', properties: {} } },
        },
      ],
      tool_choice: 'required' as const,
    };

    const client = sdk('/mixed');
    const [gpt, claude, tool] = await Promise.all([
      Promise.all(gptBodies.map((b) => client.chat.completions.create(b))),
      Promise.all(claudeBodies.map((b) => client.chat.completions.create(b))),
      client.chat.completions.create(toolBody),
    ]);

    for (const [i, answer] of gpt.entries()) {
      expect(answer.object).toBe('chat.completion');
      expect(answer.choices[0]!.message.content).toBe(simulatedCompletion(gptBodies[i]!).choices[0]!.message.content);
    }
    for (const [i, answer] of claude.entries()) {
      const body = claudeBodies[i]!;
      const expected = expectedFromClaude(body, body.model === 'claude-fast' ? HAIKU : body.model);
      // The caller sees OpenAI's shape: one choice, the text, a finish reason and usage in OpenAI's fields.
      expect(answer).toMatchObject({
        id: expected.id,
        object: 'chat.completion',
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content: expected.choices[0].message.content },
            finish_reason: expected.choices[0].finish_reason,
          },
        ],
        usage: {
          prompt_tokens: expected.usage.prompt_tokens,
          completion_tokens: expected.usage.completion_tokens,
          total_tokens: expected.usage.total_tokens,
        },
      });
      expect(answer.choices[0]!.message.content).toMatch(/^sim:[0-9a-f]+ claude-/);
    }
    // The stop sequence went over as stop_sequences and came back as finish_reason "stop", the text cut before it.
    expect(claude.at(-1)!.choices[0]!.message.content).not.toContain(' re:');
    expect(claude.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    // Tools and tool_choice went over as Anthropic tools; the tool_use block came back as an OpenAI tool call.
    expect(tool.choices[0]!.finish_reason).toBe('tool_calls');
    expect(tool.choices[0]!.message.tool_calls).toEqual([
      expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'now' }) }),
    ]);

    // Every outcome webhook: signed, once, the completion in the request object's response.
    const total = gptBodies.length + claudeBodies.length + 1;
    await receiver.waitFor(() => deliveredAt('/mixed').length >= total, { timeoutMs: 30_000 });
    const events = deliveredAt('/mixed');
    expect(events).toHaveLength(total);
    for (const e of events) {
      expect(e.type).toBe('request.completed');
      expect(e.data.response.status_code).toBe(200);
      expect(e.data.response.body.object).toBe('chat.completion');
    }
    // Each simulator received only its own family's lines, and answered none twice.
    const oa = openai.counters();
    const an = anthropic.counters();
    expect(oa.linesReceived).toBe(gptBodies.length);
    expect(an.linesReceived).toBe(claudeBodies.length + 1);
    expect(an.customIdsAnsweredTwice).toEqual([]);
    expect(oa.customIdsAnsweredTwice).toEqual([]);
    // The lines went to Anthropic with the request ids as custom_id.
    for (const id of Object.keys(an.outputBatchesByCustomId)) expect(id).toMatch(/^breq_[0-9a-z]{25}$/);
  });

  it('fails a line Anthropic refuses for that request only, with its status and the error', async () => {
    const ok = await submit(
      pipeline.url,
      ACME_KEY,
      { model: HAIKU, max_tokens: 50, messages: [{ role: 'user', content: 'fine' }] },
      { 'x-callback-url': receiver.url('/refused/ok') },
    );
    const bad = await submit(
      pipeline.url,
      ACME_KEY,
      { model: HAIKU, max_tokens: 50, messages: [{ role: 'user', content: 'refuse me [sim:error=400]' }] },
      { 'x-callback-url': receiver.url('/refused/bad') },
    );
    expect(ok.status).toBe(202);
    expect(bad.status).toBe(202);
    await receiver.waitFor(() => deliveredAt('/refused').length >= 2, { timeoutMs: 30_000 });
    const byPath = new Map(deliveredAt('/refused').map((e) => [e.data.id, e]));
    expect(byPath.get(String(ok.json.id))?.type).toBe('request.completed');
    const failed = byPath.get(String(bad.json.id))!;
    expect(failed.type).toBe('request.failed');
    expect(failed.data).toMatchObject({
      status: 'failed',
      error: { code: 'provider_rejected' },
      response: { status_code: 400, body: { error: { type: 'invalid_request_error' } } },
    });
  });

  it('refuses at the door, naming the field, what the Anthropic translation cannot carry', async () => {
    const linesBefore = anthropic.counters().linesReceived;
    const base = { model: 'claude-fast', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, n: 2 }, 'n'],
      [{ ...base, logprobs: true }, 'logprobs'],
      [{ ...base, response_format: { type: 'json_object' } }, 'response_format'],
      [{ ...base, seed: 7 }, 'seed'],
      [{ ...base, frequency_penalty: 0.5 }, 'frequency_penalty'],
    ];
    for (const [body, field] of cases) {
      const { status, json } = await submit(pipeline.url, ACME_KEY, body, {
        'x-callback-url': receiver.url('/door'),
      });
      expect(status, JSON.stringify(json)).toBe(400);
      const error = (json as { error: { code: string; param: string; message: string; type: string } }).error;
      expect(error).toMatchObject({ type: 'invalid_request_error', code: 'unsupported_parameter', param: field });
      expect(error.message).toContain(field);
      expect(error.message).toMatch(/Anthropic/);
    }
    // Several at once: every field is named in the message.
    const both = await submit(pipeline.url, ACME_KEY, { ...base, n: 3, logprobs: true });
    expect(both.status).toBe(400);
    expect((both.json as { error: { message: string } }).error.message).toMatch(/n \(.*logprobs \(/);
    // The same fields are fine for a model an OpenAI-compatible provider serves.
    const gpt = await submit(
      pipeline.url,
      ACME_KEY,
      { model: 'gpt-4o-mini', n: 2, logprobs: true, messages: [{ role: 'user', content: 'x' }] },
      { 'x-callback-url': receiver.url('/door-gpt') },
    );
    expect(gpt.status).toBe(202);
    // None of the refused requests reached the Anthropic simulator as a line.
    expect(anthropic.counters().linesReceived).toBe(linesBefore);
  });

  it('lists both families and shows both providers ready', async () => {
    const list = (await (
      await fetch(`${pipeline.url}/v1/models`, { headers: { authorization: `Bearer ${ACME_KEY}` } })
    ).json()) as { data: Array<{ id: string; owned_by: string }> };
    expect(list.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'gpt-4o-mini', owned_by: 'oa' }),
        expect.objectContaining({ id: 'claude-fast', owned_by: 'claude' }),
        expect.objectContaining({ id: HAIKU, owned_by: 'claude' }),
      ]),
    );
    const ready = (await (await fetch(`${pipeline.url}/readyz`)).json()) as {
      providers: Array<{ id: string; circuit: string }>;
    };
    expect(ready.providers).toEqual([
      expect.objectContaining({ id: 'oa', circuit: 'closed' }),
      expect.objectContaining({ id: 'claude', circuit: 'closed' }),
    ]);
  });
});

describe('Anthropic as the one provider of UPSTREAM_*', () => {
  let single: Pipeline;
  let sim: AnthropicSim;
  beforeAll(async () => {
    sim = await createAnthropicSim({ processingMs: 50, cancellingMs: 0, apiKeys: ['sk-ant-single'] });
    single = await startPipeline({
      UPSTREAM_BASE_URL: sim.url,
      UPSTREAM_API_KEY: 'sk-ant-single',
      PROVIDER_PROFILE: 'anthropic',
    });
  });
  afterAll(async () => {
    await single?.dispose();
    await sim?.close();
  });

  it('lists its models through the adapter, answers chat.completions, refuses what it cannot carry', async () => {
    const client = new OpenAI({
      baseURL: `${single.url}/v1`,
      apiKey: ACME_KEY,
      maxRetries: 0,
      defaultHeaders: { Prefer: 'wait=60' },
    });
    const body = { model: SONNET, messages: [{ role: 'user' as const, content: 'alone' }], max_tokens: 64 };
    const answer = await client.chat.completions.create(body);
    expect(answer.object).toBe('chat.completion');
    expect(answer.choices[0]!.message.content).toBe(expectedFromClaude(body, SONNET).choices[0].message.content);
    const refused = await submit(single.url, ACME_KEY, { ...body, n: 2 });
    expect(refused.status).toBe(400);
    expect((refused.json as { error: { param: string } }).error.param).toBe('n');
    // A model the Anthropic provider does not list is refused at the door.
    const unknown = await submit(single.url, ACME_KEY, { ...body, model: 'gpt-4o-mini' });
    expect(unknown.status).toBe(400);
    expect(sim.counters().linesReceived).toBe(1);
  });
});

describe('failover out of an Anthropic provider', () => {
  let pipe: Pipeline;
  let claude: AnthropicSim;
  let gateway: ProviderSim;
  let hooks: WebhookReceiver;
  beforeAll(async () => {
    claude = await createAnthropicSim({ processingMs: 50, cancellingMs: 0 });
    // An OpenAI-compatible gateway that also serves the Claude model (as OpenRouter-like gateways do).
    gateway = await createProviderSim({
      profile: 'openai',
      timings: { validatingMs: 0, finalizingMs: 0, linesPerSecond: 0, cancellingMs: 0 },
      models: [HAIKU],
    });
    const file = join(dir, 'failover-providers.json');
    writeFileSync(
      file,
      JSON.stringify({
        providers: [
          {
            id: 'claude',
            profile: 'anthropic',
            base_url: claude.url,
            api_key: 'k',
            models: ['claude-*'],
            priority: 10,
          },
          { id: 'gw', profile: 'openai', base_url: gateway.url, api_key: 'k', models: ['claude-*'], priority: 20 },
        ],
      }),
    );
    pipe = await startPipeline({
      PROVIDERS_FILE: file,
      BATCH_MAX_REQUESTS: '4',
      PROVIDER_CIRCUIT_FAILURES: '2',
      PROVIDER_CIRCUIT_COOLDOWN: '60s',
    });
    hooks = await startWebhookReceiver({ secrets: () => [String(TEST_TENANTS[0]!.webhook_secret)] });
  });
  afterAll(async () => {
    await hooks?.close();
    await pipe?.dispose();
    await claude?.close();
    await gateway?.close();
  });

  it('sends the Claude flushes to the gateway while Anthropic fails every create; none lost or paid twice', async () => {
    claude.setFaults({ serverErrorFraction: { 'batches.create': 1 } });
    const sent = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const content = `failover ${i}`;
        const { status, json } = await submit(
          pipe.url,
          ACME_KEY,
          { model: HAIKU, max_tokens: 30, messages: [{ role: 'user', content }] },
          { 'x-callback-url': hooks.url(`/f/${i}`) },
        );
        expect(status, JSON.stringify(json)).toBe(202);
        sent.set(String(json.id), content);
      }),
    );
    await hooks.waitFor(() => hooks.uniqueByWebhookId().length >= sent.size, { timeoutMs: 90_000 });
    const events = hooks.uniqueByWebhookId();
    expect(events).toHaveLength(sent.size);
    for (const d of events) {
      expect(d.verified).toBe(true);
      const e = d.json as { type: string; data: { id: string; response: { body: Record<string, unknown> } } };
      expect(e.type).toBe('request.completed');
      // The gateway answered, as an OpenAI-compatible provider does, from the very body the client sent.
      const body = { model: HAIKU, max_tokens: 30, messages: [{ role: 'user', content: sent.get(e.data.id)! }] };
      expect(e.data.response.body).toMatchObject({
        choices: [{ message: { content: simulatedCompletion(body).choices[0]!.message.content } }],
      });
    }
    expect(claude.counters().batchesCreated).toBe(0);
    expect(gateway.counters().linesReceived).toBe(sent.size);
    expect(gateway.counters().customIdsAnsweredTwice).toEqual([]);
    const ready = (await (await fetch(`${pipe.url}/readyz`)).json()) as {
      providers: Array<{ id: string; circuit: string }>;
    };
    expect(ready.providers).toEqual([
      expect.objectContaining({ id: 'claude', circuit: 'open' }),
      expect.objectContaining({ id: 'gw', circuit: 'closed' }),
    ]);
  });
});
