import { describe, expect, it } from 'vitest';
import { optionsFromEnv } from './env.js';

describe('optionsFromEnv', () => {
  it('uses the documented defaults', () => {
    const o = optionsFromEnv({});
    expect(o.port).toBe(9090);
    expect(o.host).toBe('127.0.0.1');
    expect(o.profile).toBe('openai');
  });

  it('reads timings, profile and faults (JSON plus shortcuts)', () => {
    const o = optionsFromEnv({
      PROVIDER_PROFILE: 'kluster',
      SIM_PORT: '0',
      SIM_VALIDATING_MS: '0',
      SIM_LINES_PER_SECOND: '500',
      SIM_API_KEYS: 'a, b',
      SIM_FAULTS: '{"dropLineFraction":0.1,"latencyMs":{"files.create":5}}',
      SIM_LATENCY_MS: '7',
      SIM_CHAT_RPM: '60',
      SIM_CHAT_CONCURRENCY: '10',
    });
    expect(o.profile).toBe('kluster');
    expect(o.timings).toEqual({ validatingMs: 0, linesPerSecond: 500 });
    expect(o.apiKeys).toEqual(['a', 'b']);
    expect(o.faults).toEqual({
      dropLineFraction: 0.1,
      latencyMs: { 'files.create': 5, '*': 7 },
      requestsPerMinute: { 'chat.completions': 60 },
      maxConcurrent: { 'chat.completions': 10 },
    });
  });

  it('names the bad variable', () => {
    expect(() => optionsFromEnv({ SIM_PORT: 'x' })).toThrow(/SIM_PORT/);
    expect(() => optionsFromEnv({ SIM_FAULTS: '{' })).toThrow(/SIM_FAULTS/);
  });
});
