/** Request ids: their partition, and their order — a process's ids sort in creation order, even within a millisecond. */
import { describe, expect, it } from 'vitest';
import { isRequestId, newRequestId, partitionOfRequestId } from './ids.js';

describe('newRequestId', () => {
  it('embeds the partition and matches the id pattern', () => {
    const id = newRequestId(37);
    expect(isRequestId(id)).toBe(true);
    expect(partitionOfRequestId(id)).toBe(37);
  });

  it('sorts in creation order, also for ids made within one millisecond', () => {
    const ids = Array.from({ length: 5_000 }, () => newRequestId(0));
    // Thousands of ids take a few milliseconds here: many share one.
    expect(new Set(ids.map((id) => id.slice(7, 16))).size).toBeLessThan(ids.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
  });
});
