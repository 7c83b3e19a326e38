import { describe, expect, it } from 'vitest';
import {
  type AnthropicMessage,
  AnthropicTranslationError,
  anthropicErrorToOpenAI,
  fromAnthropicMessage,
  refusedChatFields,
  toAnthropicParams,
} from './translate.js';

const model = 'claude-haiku-4-5-20251001';

describe('toAnthropicParams', () => {
  it('moves system and developer messages to the top-level system and keeps the turns', () => {
    const params = toAnthropicParams({
      model,
      max_completion_tokens: 64,
      max_tokens: 999,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Answer in French.' }] },
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: [{ type: 'text', text: 'Again' }] },
      ],
      stop: 'END',
      temperature: 0.2,
      top_p: 0.9,
      user: 'u-42',
    });
    expect(params).toEqual({
      model,
      max_tokens: 64,
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Answer in French.' },
      ],
      messages: [
        { role: 'user', content: 'Hello' },
        { role: 'assistant', content: 'Bonjour' },
        { role: 'user', content: 'Again' },
      ],
      stop_sequences: ['END'],
      temperature: 0.2,
      top_p: 0.9,
      metadata: { user_id: 'u-42' },
    });
  });

  it('takes max_tokens, then the profile default, and the routed model name', () => {
    const messages = [{ role: 'user', content: 'hi' }];
    expect(toAnthropicParams({ model, messages, max_tokens: 10 }).max_tokens).toBe(10);
    const p = toAnthropicParams({ model: 'claude-fast', messages }, { defaultMaxTokens: 4096, model });
    expect(p.max_tokens).toBe(4096);
    expect(p.model).toBe(model);
    expect(refusedChatFields({ model, messages })).toEqual([
      { field: 'max_tokens', reason: expect.stringContaining('requires a token limit') },
    ]);
  });

  it('translates tools, tool choices and parallel_tool_calls', () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'get_weather',
          description: 'Weather of a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          strict: true,
        },
      },
      { type: 'function', function: { name: 'now' } },
    ];
    const base = { model, max_tokens: 50, messages: [{ role: 'user', content: 'weather?' }], tools };
    const p = toAnthropicParams({ ...base, tool_choice: 'required', parallel_tool_calls: false });
    expect(p.tools).toEqual([
      {
        name: 'get_weather',
        description: 'Weather of a city',
        input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
        strict: true,
      },
      { name: 'now', input_schema: { type: 'object', properties: {} } },
    ]);
    expect(p.tool_choice).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(toAnthropicParams({ ...base, tool_choice: 'auto' }).tool_choice).toEqual({ type: 'auto' });
    expect(toAnthropicParams({ ...base, tool_choice: 'none' }).tool_choice).toEqual({ type: 'none' });
    expect(
      toAnthropicParams({ ...base, tool_choice: { type: 'function', function: { name: 'now' } } }).tool_choice,
    ).toEqual({ type: 'tool', name: 'now' });
    expect(toAnthropicParams(base).tool_choice).toBeUndefined();
    expect(toAnthropicParams({ ...base, parallel_tool_calls: false }).tool_choice).toEqual({
      type: 'auto',
      disable_parallel_tool_use: true,
    });
  });

  it('turns assistant tool calls into tool_use blocks and tool messages into one user turn of tool_result blocks', () => {
    const p = toAnthropicParams({
      model,
      max_tokens: 50,
      messages: [
        { role: 'user', content: 'weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18 °C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '24 °C' }] },
        { role: 'user', content: 'Which is warmer?' },
      ],
    });
    expect(p.messages).toEqual([
      { role: 'user', content: 'weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18 °C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: '24 °C' },
          { type: 'text', text: 'Which is warmer?' },
        ],
      },
    ]);
  });

  it('sends data URL images as base64 sources and http URLs as url sources', () => {
    const p = toAnthropicParams({
      model,
      max_tokens: 50,
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Compare' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
      ],
    });
    expect(p.messages[0]?.content).toEqual([
      { type: 'text', text: 'Compare' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  it('maps response_format json_schema to output_config and ignores text', () => {
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    const base = { model, max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    expect(
      toAnthropicParams({ ...base, response_format: { type: 'json_schema', json_schema: { name: 'n', schema } } })
        .output_config,
    ).toEqual({ format: { type: 'json_schema', schema } });
    expect(toAnthropicParams({ ...base, response_format: { type: 'text' } }).output_config).toBeUndefined();
  });

  it('accepts the neutral value of fields Anthropic lacks', () => {
    expect(
      refusedChatFields({
        model,
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        n: 1,
        logprobs: false,
        presence_penalty: 0,
        frequency_penalty: 0,
        stream: false,
        store: false,
        service_tier: 'auto',
        seed: null,
      }),
    ).toEqual([]);
  });

  it('refuses every field without a counterpart at once, naming each', () => {
    const body = {
      model,
      messages: [
        { role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] },
        { role: 'system', content: 'late system prompt' },
        { role: 'function', name: 'f', content: 'x' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: 'not json' } }],
        },
        { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/bmp;base64,Qk0=' } }] },
      ],
      n: 2,
      logprobs: true,
      top_logprobs: 3,
      presence_penalty: 0.5,
      frequency_penalty: -1,
      logit_bias: { '50256': -100 },
      seed: 7,
      temperature: 1.5,
      response_format: { type: 'json_object' },
      stream: true,
      frobnicate: true,
    };
    const fields = refusedChatFields(body).map((f) => f.field);
    expect(fields.sort()).toEqual(
      [
        'n',
        'logprobs',
        'top_logprobs',
        'presence_penalty',
        'frequency_penalty',
        'logit_bias',
        'seed',
        'stream',
        'frobnicate',
        'max_tokens',
        'temperature',
        'response_format',
        'messages[0].content[0]',
        'messages[1]',
        'messages[2].role',
        'messages[3].tool_calls[0].function.arguments',
        'messages[4].content[0]',
      ].sort(),
    );
    let thrown: unknown;
    try {
      toAnthropicParams(body);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(AnthropicTranslationError);
    const err = thrown as AnthropicTranslationError;
    expect(err.code).toBe('provider.anthropic_unsupported');
    expect(err.fields).toHaveLength(fields.length);
    for (const f of fields) expect(err.message).toContain(f);
    expect(err.message).toContain('n (Anthropic answers one choice per request');
  });
});

describe('fromAnthropicMessage', () => {
  const message = (over: Partial<AnthropicMessage>): AnthropicMessage => ({
    id: 'msg_01Abc',
    type: 'message',
    role: 'assistant',
    model,
    content: [{ type: 'text', text: 'Hi there' }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 10, output_tokens: 4 },
    ...over,
  });

  it('builds an OpenAI chat.completion with usage and finish reason', () => {
    const c = fromAnthropicMessage(
      message({
        usage: { input_tokens: 10, output_tokens: 4, cache_read_input_tokens: 6, cache_creation_input_tokens: 2 },
      }),
      { created: 1_700_000_000, model: 'my-alias' },
    );
    expect(c).toEqual({
      id: 'chatcmpl-01Abc',
      object: 'chat.completion',
      created: 1_700_000_000,
      model: 'my-alias',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hi there', refusal: null, annotations: [] },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: 18,
        completion_tokens: 4,
        total_tokens: 22,
        // Cache writes kept apart: they are priced apart (SPEC §15).
        prompt_tokens_details: { cached_tokens: 6, audio_tokens: 0, cache_creation_tokens: 2 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
      service_tier: 'default',
      system_fingerprint: null,
    });
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
  ] as const)('maps stop_reason %s to finish_reason %s', (stop, finish) => {
    expect(fromAnthropicMessage(message({ stop_reason: stop })).choices[0].finish_reason).toBe(finish);
  });

  it('turns tool_use blocks into tool_calls with JSON arguments and null content', () => {
    const c = fromAnthropicMessage(
      message({
        content: [{ type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } }],
        stop_reason: 'tool_use',
      }),
    );
    expect(c.choices[0].message).toEqual({
      role: 'assistant',
      content: null,
      refusal: null,
      annotations: [],
      tool_calls: [
        { id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
      ],
    });
    expect(c.choices[0].finish_reason).toBe('tool_calls');
  });
});

describe('anthropicErrorToOpenAI', () => {
  it('renders nested and flat Anthropic errors OpenAI-shaped, 529 as 503', () => {
    expect(
      anthropicErrorToOpenAI({
        type: 'error',
        error: { type: 'invalid_request_error', message: 'max_tokens: Field required' },
      }),
    ).toEqual({
      status: 400,
      body: {
        error: {
          message: 'max_tokens: Field required',
          type: 'invalid_request_error',
          param: null,
          code: 'invalid_request_error',
        },
      },
    });
    expect(anthropicErrorToOpenAI({ type: 'overloaded_error', message: 'Overloaded' }).status).toBe(503);
    expect(anthropicErrorToOpenAI({ type: 'rate_limit_error', message: 'slow' }).body.error.type).toBe(
      'rate_limit_error',
    );
  });
});
