/**
 * `stream: true` with a wait (SPEC §8): the client asked for server-sent events, batchbridge has the whole completion
 * at once. The answer is the same completion re-told as `chat.completion.chunk` events — the role, the content, tool
 * calls, the finish reason, then usage when `stream_options.include_usage` asked for it — and `data: [DONE]`, which is
 * what the openai SDKs, LangChain and the AI SDK assemble back into the completion.
 */

interface Choice {
  index?: number;
  message?: {
    role?: string;
    content?: string | null;
    refusal?: string | null;
    tool_calls?: Array<{ id?: string; type?: string; function?: { name?: string; arguments?: string } }>;
  };
  logprobs?: unknown;
  finish_reason?: string | null;
}

interface ChatCompletion {
  id?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string | null;
  service_tier?: string | null;
  choices?: Choice[];
  usage?: unknown;
}

/** An SSE comment: keeps proxies and clients from timing out an idle stream. */
export const SSE_KEEPALIVE = ': waiting for the batch\n\n';

/** The `data:` events re-telling `completion` as a stream, ending with `[DONE]`. */
export function completionAsSse(completion: unknown, options: { includeUsage: boolean }): string {
  const c = (completion ?? {}) as ChatCompletion;
  const base = {
    id: c.id ?? 'chatcmpl-batchbridge',
    object: 'chat.completion.chunk',
    created: c.created ?? Math.floor(Date.now() / 1000),
    model: c.model ?? '',
    ...(c.system_fingerprint !== undefined ? { system_fingerprint: c.system_fingerprint } : {}),
    ...(c.service_tier !== undefined ? { service_tier: c.service_tier } : {}),
  };
  const events: unknown[] = [];
  for (const [position, choice] of (c.choices ?? []).entries()) {
    const index = choice.index ?? position;
    const message = choice.message ?? {};
    const delta: Record<string, unknown> = { role: message.role ?? 'assistant', content: message.content ?? null };
    if (message.refusal !== undefined) delta.refusal = message.refusal;
    if (message.tool_calls?.length) {
      delta.tool_calls = message.tool_calls.map((call, i) => ({ index: i, ...call }));
    }
    events.push({ ...base, choices: [{ index, delta, logprobs: choice.logprobs ?? null, finish_reason: null }] });
    events.push({
      ...base,
      choices: [{ index, delta: {}, logprobs: null, finish_reason: choice.finish_reason ?? 'stop' }],
    });
  }
  if (options.includeUsage && c.usage !== undefined) events.push({ ...base, choices: [], usage: c.usage });
  return `${events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join('')}data: [DONE]\n\n`;
}

/** An error told as a stream event, as the openai SDKs read one (`data: {"error": …}`), then `[DONE]`. */
export function errorAsSse(body: unknown): string {
  return `data: ${JSON.stringify(body)}\n\ndata: [DONE]\n\n`;
}
