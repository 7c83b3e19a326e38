// Group names (SPEC §9–§11, §10 windows): `[<provider>[~<allowed>…]:]<endpoint>[@<window>]|<model>[|iso:…]` — the
// window marker a faster completion window adds leaves every other part readable, and survives isolation.
import { describe, expect, it } from 'vitest';
import { endpointOfGroup, providerPartOf, windowOfGroup, withWindow } from './endpoints.js';
import { groupFor, isolationGroup, modelOfGroup, turnaroundSeries } from './request-record.js';

describe('group names with a completion window', () => {
  it('carry the window in the endpoint part, every other part unchanged', () => {
    const route = { provider: 'dw', allowed: ['dw', 'oa'] };
    const plain = groupFor('/v1/embeddings', 'Qwen/Qwen3-Embedding-8B', false, route);
    const fast = groupFor('/v1/embeddings', 'Qwen/Qwen3-Embedding-8B', false, route, '1h');
    expect(fast).toBe('dw~dw+oa:embeddings@1h|Qwen/Qwen3-Embedding-8B');
    expect(withWindow(plain, '1h')).toBe(fast);
    expect(withWindow(fast, undefined)).toBe(plain);
    expect(windowOfGroup(fast)).toBe('1h');
    expect(windowOfGroup(plain)).toBeUndefined();
    for (const g of [plain, fast]) {
      expect(endpointOfGroup(g)).toBe('/v1/embeddings');
      expect(modelOfGroup(g)).toBe('Qwen/Qwen3-Embedding-8B');
      expect(providerPartOf(g)).toEqual({ provider: 'dw', allowed: ['dw', 'oa'] });
    }
    expect(turnaroundSeries(fast)).toBe('Qwen/Qwen3-Embedding-8B@1h');
    expect(turnaroundSeries(plain)).toBe('Qwen/Qwen3-Embedding-8B');
  });

  it('keeps the window through isolation and on a group without a provider', () => {
    const fast = groupFor('/v1/chat/completions', 'm', false, undefined, '1h');
    expect(fast).toBe('chat.completions@1h|m');
    const iso = isolationGroup(fast, 'fx1', 'a');
    expect(iso).toBe('chat.completions@1h|m|iso:fx1a');
    expect(windowOfGroup(iso)).toBe('1h');
    expect(withWindow(iso, undefined)).toBe('chat.completions|m|iso:fx1a');
    expect(endpointOfGroup(iso)).toBe('/v1/chat/completions');
  });
});
