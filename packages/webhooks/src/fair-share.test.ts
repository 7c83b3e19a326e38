import { describe, expect, it } from 'vitest';
import { createFairShareLimiter } from './host-limiter.js';

describe('fair-share limiter', () => {
  it('gives a lone tenant every slot, and keeps a share free for a tenant that delivered recently', () => {
    let t = 0;
    const limiter = createFairShareLimiter({ slots: 6, now: () => t });
    const a = Array.from({ length: 6 }, () => limiter.tryAcquire('a'));
    expect(a.every((r) => r !== null)).toBe(true);
    expect(limiter.tryAcquire('a')).toBeNull();
    for (const release of a) release?.();

    // b delivers once, then goes quiet; a is busy again: a gets half, b's next outcome finds its share free.
    limiter.tryAcquire('b')?.();
    t += 5_000;
    const again = Array.from({ length: 6 }, () => limiter.tryAcquire('a'));
    expect(again.filter((r) => r !== null)).toHaveLength(3);
    expect(limiter.tryAcquire('b')).not.toBeNull();
    expect(limiter.total()).toBe(4);
  });

  it('splits the slots between busy tenants and never hands out more than the slots or the per-tenant cap', () => {
    let t = 0;
    const limiter = createFairShareLimiter({ slots: 8, maxPerKey: 3, now: () => t });
    const got = { a: 0, b: 0 };
    for (let i = 0; i < 10; i++) {
      if (limiter.tryAcquire('a')) got.a++;
      if (limiter.tryAcquire('b')) got.b++;
    }
    expect(got).toEqual({ a: 3, b: 3 });
    t += 61_000;
    // Known tenants are forgotten after a minute without news.
    expect(limiter.share()).toBe(3);
    expect(limiter.total()).toBe(6);
  });
});
