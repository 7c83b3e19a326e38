import { describe, expect, it } from 'vitest';
import { waitFor } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first truthy value of the check', async () => {
    let calls = 0;
    await expect(waitFor('the third call', () => (++calls >= 3 ? calls : undefined))).resolves.toBe(3);
  });

  it('names what it waited for when it gives up', async () => {
    await expect(waitFor('a miracle', async () => false, 50)).rejects.toThrow('timed out waiting for a miracle');
  });
});
