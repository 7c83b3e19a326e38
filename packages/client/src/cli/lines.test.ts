import { describe, expect, it } from 'vitest';
import { endpointPath } from '../endpoints.js';
import { parseLine } from './lines.js';
import { formatS } from './progress.js';

describe('input lines of batchbridge submit', () => {
  it('reads endpoint bodies and provider batch lines', () => {
    expect(parseLine(1, '{"model":"m","messages":[]}', undefined)).toMatchObject({
      endpoint: '/v1/chat/completions',
      batchLine: false,
    });
    expect(parseLine(2, '{"model":"m","prompt":"p"}', undefined)).toMatchObject({ endpoint: '/v1/completions' });
    expect(parseLine(3, '{"model":"m","input":"x"}', '/v1/embeddings')).toMatchObject({ endpoint: '/v1/embeddings' });
    const batch = '{"custom_id":"a-1","method":"POST","url":"/v1/embeddings","body":{"model":"m","input":"x"}}';
    expect(parseLine(4, batch, '/v1/chat/completions')).toEqual({
      line: 4,
      endpoint: '/v1/embeddings',
      body: { model: 'm', input: 'x' },
      customId: 'a-1',
      batchLine: true,
    });
  });

  it('names what is wrong with a line it cannot send', () => {
    expect(parseLine(5, '{nope', undefined)).toMatchObject({ line: 5, error: { code: 'invalid_json' } });
    expect(parseLine(6, '[1]', undefined)).toMatchObject({ error: { code: 'invalid_line' } });
    expect(parseLine(7, '{"model":"m","input":"x"}', undefined)).toMatchObject({ error: { code: 'unknown_endpoint' } });
    expect(parseLine(8, '{"url":"/v1/files","body":{}}', undefined)).toMatchObject({ error: { code: 'invalid_url' } });
    expect(parseLine(9, '{"method":"GET","url":"/v1/embeddings","body":{}}', undefined)).toMatchObject({
      error: { code: 'invalid_method' },
    });
  });

  it('takes endpoints by short name or path', () => {
    expect(endpointPath('chat')).toBe('/v1/chat/completions');
    expect(endpointPath('/v1/moderations')).toBe('/v1/moderations');
    expect(endpointPath('embeddings')).toBe('/v1/embeddings');
    expect(endpointPath('/v1/files')).toBeUndefined();
    expect(endpointPath('toString')).toBeUndefined();
  });

  it('formats an ETA', () => {
    expect([formatS(5), formatS(75), formatS(7300)]).toEqual(['5s', '1m15s', '2h01m']);
  });
});
