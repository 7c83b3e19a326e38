import { describe, expect, it } from 'vitest';
import { CustomIdSet } from './custom-id-set.js';

describe('CustomIdSet (the duplicate check of an upload)', () => {
  it('finds every id added and no other, through growth, for a million-line file', () => {
    const set = new CustomIdSet(16);
    let seenBefore = 0;
    for (let i = 0; i < 1_000_000; i++) {
      const id = `item-${i}`;
      if (set.has(id)) seenBefore++;
      set.add(id);
    }
    expect(seenBefore).toBe(0);
    expect(set.size).toBe(1_000_000);
    let found = 0;
    for (let i = 0; i < 1_000_000; i += 997) if (set.has(`item-${i}`)) found++;
    expect(found).toBe(Math.ceil(1_000_000 / 997));
    for (const other of ['item-1000000', 'item--1', 'Item-1', 'item-01', '', 'item-1 ', 'é']) {
      expect(set.has(other)).toBe(false);
    }
  });

  it('tells apart ids that differ in one code unit, order or length', () => {
    const set = new CustomIdSet();
    set.add('ab');
    set.add('request-1');
    set.add('日本語');
    expect(set.has('ba')).toBe(false);
    expect(set.has('ab\u0000')).toBe(false);
    expect(set.has('request-2')).toBe(false);
    expect(set.has('日本')).toBe(false);
    expect(set.has('ab')).toBe(true);
    expect(set.has('日本語')).toBe(true);
    set.add('ab');
    expect(set.size).toBe(3);
  });
});
