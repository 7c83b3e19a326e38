import { describe, expect, it } from 'vitest';
import { createHostLimiter, hostKey } from './host-limiter.js';

describe('createHostLimiter', () => {
  it('hands out at most maxPerHost slots per key', () => {
    const limiter = createHostLimiter({ maxPerHost: 2 });
    const first = limiter.tryAcquire('a.example:443');
    const second = limiter.tryAcquire('a.example:443');
    expect(first).toBeTypeOf('function');
    expect(second).toBeTypeOf('function');
    expect(limiter.tryAcquire('a.example:443')).toBeNull();
    expect(limiter.tryAcquire('b.example:443')).toBeTypeOf('function');
    expect(limiter.inFlight('a.example:443')).toBe(2);
    first?.();
    expect(limiter.tryAcquire('a.example:443')).toBeTypeOf('function');
  });

  it('releases a slot once even when release is called twice', () => {
    const limiter = createHostLimiter({ maxPerHost: 2 });
    const release = limiter.tryAcquire('k');
    limiter.tryAcquire('k');
    release?.();
    release?.();
    expect(limiter.inFlight('k')).toBe(1);
  });

  it('rejects a nonsensical limit', () => {
    expect(() => createHostLimiter({ maxPerHost: 0 })).toThrow(/positive integer/);
  });
});

describe('hostKey', () => {
  it('fills in the default port', () => {
    expect(hostKey('https://hooks.example.com/x')).toBe('hooks.example.com:443');
    expect(hostKey('http://hooks.example.com/x')).toBe('hooks.example.com:80');
    expect(hostKey(new URL('http://127.0.0.1:8080/'))).toBe('127.0.0.1:8080');
    expect(hostKey('http://[::1]:9000/')).toBe('[::1]:9000');
  });
});
