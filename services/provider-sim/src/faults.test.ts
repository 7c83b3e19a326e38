import { describe, expect, it } from 'vitest';
import { forOperation, mergeFaults, noFaults } from './faults.js';

describe('mergeFaults', () => {
  it('merges per-operation maps key by key and replaces other fields', () => {
    let f = mergeFaults(noFaults(), { rateLimitFraction: { 'batches.create': 0.5 }, retryAfterMs: 10 });
    f = mergeFaults(f, { rateLimitFraction: { 'files.create': 1 } });
    expect(f.rateLimitFraction).toEqual({ 'batches.create': 0.5, 'files.create': 1 });
    expect(f.retryAfterMs).toBe(10);
    f = mergeFaults(f, { rateLimitFraction: { 'batches.create': null } });
    expect(f.rateLimitFraction).toEqual({ 'files.create': 1 });
  });

  it('rejects unknown fields and out-of-range values', () => {
    expect(() => mergeFaults(noFaults(), { nope: 1 })).toThrow();
    expect(() => mergeFaults(noFaults(), { dropLineFraction: 2 })).toThrow();
    expect(() => mergeFaults(noFaults(), { latencyMs: { 'files.nope': 1 } })).toThrow();
  });

  it('falls back to the * entry', () => {
    const f = mergeFaults(noFaults(), { latencyMs: { '*': 5, 'chat.completions': 1 } });
    expect(forOperation(f.latencyMs, 'chat.completions')).toBe(1);
    expect(forOperation(f.latencyMs, 'files.list')).toBe(5);
  });
});
