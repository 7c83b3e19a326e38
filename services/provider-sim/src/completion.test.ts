import { describe, expect, it } from 'vitest';
import { estimateTokens, messagesHash, sampleForSchema, simMarkers, simulatedCompletion } from './completion.js';

const request = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'What is the capital of Argentina?' },
  ],
};

describe('simulatedCompletion', () => {
  it('is a function of the request: same request, same answer; the content carries the messages hash', () => {
    const a = simulatedCompletion(request, { created: 1 });
    const b = simulatedCompletion(structuredClone(request), { created: 1 });
    expect(a).toEqual(b);
    const content = a.choices[0].message.content;
    expect(content).toBe(`sim:${messagesHash(request.messages)} gpt-4o-mini re: What is the capital of Argentina?`);
    expect(a.object).toBe('chat.completion');
    expect(a.model).toBe('gpt-4o-mini');
    expect(a.choices[0].finish_reason).toBe('stop');
  });

  it('answers different requests differently', () => {
    const other = { ...request, messages: [{ role: 'user', content: 'What is the capital of Chile?' }] };
    expect(simulatedCompletion(other).choices[0].message.content).not.toBe(
      simulatedCompletion(request).choices[0].message.content,
    );
    expect(messagesHash(other.messages)).not.toBe(messagesHash(request.messages));
  });

  it('hashes messages independently of key order', () => {
    expect(messagesHash([{ content: 'x', role: 'user' }])).toBe(messagesHash([{ role: 'user', content: 'x' }]));
  });

  it('counts about four characters per token', () => {
    const long = 'a'.repeat(4000);
    const c = simulatedCompletion({ model: 'm', messages: [{ role: 'user', content: long }] });
    expect(c.usage.prompt_tokens).toBe(1000);
    expect(c.usage.completion_tokens).toBe(estimateTokens(c.choices[0].message.content ?? ''));
    expect(c.usage.total_tokens).toBe(c.usage.prompt_tokens + c.usage.completion_tokens);
  });

  it('reads text parts of array content', () => {
    const parts = { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hello parts' }] }] };
    expect(simulatedCompletion(parts).choices[0].message.content).toContain('re: hello parts');
  });

  it('stops at max_completion_tokens with finish_reason length', () => {
    const c = simulatedCompletion({ ...request, max_completion_tokens: 3 });
    expect(c.choices[0].finish_reason).toBe('length');
    expect(c.usage.completion_tokens).toBe(3);
    expect(c.choices[0].message.content).toHaveLength(12);
  });
});

describe('simMarkers', () => {
  it('finds error and drop markers in any message', () => {
    expect(simMarkers([{ role: 'user', content: 'x [sim:error=503] y' }])).toEqual({ errorStatus: 503, drop: false });
    expect(simMarkers([{ role: 'system', content: '[sim:drop]' }])).toEqual({ errorStatus: null, drop: true });
    expect(simMarkers([{ role: 'user', content: '[sim:error=200]' }]).errorStatus).toBeNull();
  });
});

describe('structured outputs and refusals', () => {
  const schema = {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 30 },
      n: { type: 'integer', minimum: 3 },
      ok: { type: 'boolean' },
      kind: { enum: ['a', 'b'] },
      items: { type: 'array', items: { $ref: '#/$defs/item' }, minItems: 2 },
      maybe: { anyOf: [{ type: 'null' }, { type: 'number' }] },
    },
    required: ['name', 'n', 'ok', 'kind', 'items', 'maybe'],
    $defs: { item: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } },
  };

  it('sampleForSchema builds a value that follows the schema, from the seed', () => {
    expect(sampleForSchema(schema, 'sim:x')).toEqual({
      name: 'sim:x'.padEnd(30, '.'),
      n: 3,
      ok: true,
      kind: 'a',
      items: [{ id: 'sim:x' }, { id: 'sim:x' }],
      maybe: 1,
    });
  });

  it('answers a json_schema chat request with JSON that follows it, and [sim:refuse] with a refusal', () => {
    const messages = [{ role: 'user', content: 'a thing' }];
    const answer = simulatedCompletion({
      model: 'gpt-4o-mini',
      messages,
      response_format: { type: 'json_schema', json_schema: { name: 't', schema } },
    });
    const value = JSON.parse(String(answer.choices[0].message.content)) as { name: string };
    expect(value.name.startsWith(`sim:${messagesHash(messages)}`)).toBe(true);
    const refused = simulatedCompletion({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: '[sim:refuse]' }],
    });
    expect(refused.choices[0].message.content).toBeNull();
    expect(refused.choices[0].message.refusal).toMatch(/can't help/);
  });
});
