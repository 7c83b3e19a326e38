import { describe, expect, it } from 'vitest';
import {
  embeddingInputs,
  float32ToBase64,
  simulatedEmbedding,
  simulatedEmbeddings,
  simulatedEmbeddingsJson,
} from './embeddings.js';
import { simulatedModeration } from './moderations.js';
import { responseInputHash, simulatedResponse } from './responses.js';
import { simulatedTextCompletion } from './text-completion.js';

const norm = (v: Float32Array | readonly number[]) => Math.hypot(...v);

describe('simulatedEmbedding', () => {
  it('is a unit vector fixed by model and input, different for different inputs', () => {
    const a = simulatedEmbedding('text-embedding-3-small', 'alpha', 1536);
    expect(a).toHaveLength(1536);
    expect(norm(a)).toBeCloseTo(1, 5);
    expect(simulatedEmbedding('text-embedding-3-small', 'alpha', 1536)).toEqual(a);
    expect(simulatedEmbedding('text-embedding-3-small', 'beta', 1536)).not.toEqual(a);
    expect(simulatedEmbedding('text-embedding-3-large', 'alpha', 1536)).not.toEqual(a);
    // A string and the token array of the same characters are different inputs.
    expect(simulatedEmbedding('m', '[1]', 8)).not.toEqual(simulatedEmbedding('m', [1], 8));
  });

  it('shortens like text-embedding-3: the prefix of the full vector, renormalised', () => {
    const full = simulatedEmbedding('text-embedding-3-large', 'alpha', 3072);
    const short = simulatedEmbedding('text-embedding-3-large', 'alpha', 256);
    expect(norm(short)).toBeCloseTo(1, 5);
    const scale = norm(full.subarray(0, 256));
    short.forEach((v, i) => {
      expect(v).toBeCloseTo((full[i] as number) / scale, 6);
    });
  });

  it('encodes base64 as little-endian float32, the same values as the float form', () => {
    const v = simulatedEmbedding('m', 'x', 4);
    const bytes = Buffer.from(float32ToBase64(v), 'base64');
    expect(bytes).toHaveLength(16);
    expect([0, 1, 2, 3].map((i) => bytes.readFloatLE(i * 4))).toEqual(Array.from(v));
  });
});

describe('simulatedEmbeddings', () => {
  it('answers one vector per input, in chunks that concatenate to the whole JSON', () => {
    const body = { model: 'text-embedding-3-small', input: ['a', 'bb', 'cccccc'], dimensions: 16 };
    const chunks = [...simulatedEmbeddingsJson(body)];
    expect(chunks.length).toBe(5);
    const whole = simulatedEmbeddings(body);
    expect(chunks.join('')).toBe(JSON.stringify(whole));
    expect(whole.data.map((d) => d.index)).toEqual([0, 1, 2]);
    expect((whole.data[2]!.embedding as number[]).map(Math.fround)).toEqual(
      Array.from(simulatedEmbedding('text-embedding-3-small', 'cccccc', 16)),
    );
    // Written as OpenAI writes float32 values: at most 9 significant digits, not the 17 of a double.
    for (const n of chunks.join('').match(/-?\d\.\d+(e-?\d+)?|-?0\.\d+/g) ?? []) {
      expect(n.replace(/^-?0\.0*|e.*$|[-.]/g, '').length).toBeLessThanOrEqual(9);
    }
    expect(whole.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
  });

  it('reads token inputs: one array is one input, an array of arrays is many', () => {
    expect(embeddingInputs([1, 2, 3])).toEqual([[1, 2, 3]]);
    expect(embeddingInputs([[1], [2, 3]])).toEqual([[1], [2, 3]]);
    expect(simulatedEmbeddings({ model: 'm', input: [[1], [2, 3]] }).usage.prompt_tokens).toBe(3);
  });

  it('sends strings with encoding_format base64', () => {
    const out = simulatedEmbeddings({ model: 'm', input: 'x', dimensions: 4, encoding_format: 'base64' });
    expect(out.data[0]?.embedding).toBe(float32ToBase64(simulatedEmbedding('m', 'x', 4)));
  });
});

describe('simulatedResponse', () => {
  const body = { model: 'gpt-4o-mini', instructions: 'Be terse.', input: 'What is the capital of Peru?' };

  it('answers one assistant message with the input hash and excerpt', () => {
    const r = simulatedResponse(body, { created: 7 });
    expect(r).toMatchObject({ object: 'response', status: 'completed', created_at: 7, instructions: 'Be terse.' });
    expect(r.output[0].content[0].text).toBe(
      `sim:${responseInputHash(body)} gpt-4o-mini re: What is the capital of Peru?`,
    );
    expect(simulatedResponse(structuredClone(body), { created: 7 })).toEqual(r);
    expect(responseInputHash({ ...body, instructions: 'Be long.' })).not.toBe(responseInputHash(body));
  });

  it('reads the last user item of an item list', () => {
    const r = simulatedResponse({
      model: 'm',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'first' }] },
        { role: 'assistant', content: 'reply' },
        { role: 'user', content: [{ type: 'input_text', text: 'second' }] },
      ],
    });
    expect(r.output[0].content[0].text).toMatch(/ re: second$/);
  });

  it('stops at max_output_tokens as incomplete', () => {
    const r = simulatedResponse({ ...body, max_output_tokens: 3 });
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.output[0].content[0].text).toHaveLength(12);
    expect(r.usage.output_tokens).toBe(3);
  });
});

describe('simulatedTextCompletion', () => {
  it('answers one choice per prompt and n, cut at the default 16 tokens', () => {
    const c = simulatedTextCompletion({
      model: 'gpt-3.5-turbo-instruct',
      prompt: ['one', 'two'],
      n: 2,
      max_tokens: 50,
    });
    expect(c.choices.map((x) => x.index)).toEqual([0, 1, 2, 3]);
    expect(c.choices[2]?.text).toMatch(/ re: two$/);
    expect(c.choices[0]?.text).toBe(c.choices[1]?.text);
    const cut = simulatedTextCompletion({ model: 'gpt-3.5-turbo-instruct', prompt: 'x'.repeat(200) });
    expect(cut.choices[0]).toMatchObject({ finish_reason: 'length' });
    expect(cut.choices[0]?.text).toHaveLength(64);
    expect(cut.usage.completion_tokens).toBe(16);
  });

  it('echoes the prompt when asked', () => {
    const c = simulatedTextCompletion({ model: 'm', prompt: 'Hi. ', echo: true, max_tokens: 100 });
    expect(c.choices[0]?.text.startsWith('Hi. sim:')).toBe(true);
  });
});

describe('simulatedModeration', () => {
  it('flags only the categories a marker names', () => {
    const m = simulatedModeration({ input: ['calm', 'x [sim:flag=self-harm] [sim:flag]'] });
    expect(m.model).toBe('omni-moderation-latest');
    expect(m.results[0]?.flagged).toBe(false);
    expect(Object.values(m.results[0]?.category_scores ?? {}).every((s) => s < 0.01)).toBe(true);
    expect(m.results[1]?.flagged).toBe(true);
    const flagged = Object.entries(m.results[1]?.categories ?? {}).filter(([, v]) => v);
    expect(flagged.map(([k]) => k)).toEqual(['self-harm', 'violence']);
    expect(simulatedModeration({ input: ['calm'] }).results[0]).toEqual(m.results[0]);
  });

  it('treats a multi-modal part list as one input, with image types where OpenAI scores images', () => {
    const m = simulatedModeration({
      input: [
        { type: 'text', text: 'look' },
        { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
      ],
    });
    expect(m.results).toHaveLength(1);
    expect(m.results[0]?.category_applied_input_types.violence).toEqual(['text', 'image']);
    expect(m.results[0]?.category_applied_input_types.hate).toEqual(['text']);
  });
});
