// Issue 14.3: two checkouts on one Redis get different key prefixes; one checkout keeps its own across starts.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkoutKeyPrefix } from './key-prefix.js';

describe('checkoutKeyPrefix', () => {
  it('gives each checkout its own prefix and keeps it', () => {
    const a = join(mkdtempSync(join(tmpdir(), 'bb-co-')), '.data');
    const b = join(mkdtempSync(join(tmpdir(), 'bb-co-')), '.data');
    const first = checkoutKeyPrefix(a);
    expect(first).toMatch(/^bb[0-9a-f]{8}$/);
    expect(checkoutKeyPrefix(a)).toBe(first);
    expect(checkoutKeyPrefix(b)).not.toBe(first);
  });

  it('keeps the old shared prefix for a checkout that already ran with it', () => {
    const root = join(mkdtempSync(join(tmpdir(), 'bb-co-')), '.data');
    mkdirSync(root, { recursive: true });
    writeFileSync(join(root, 'dev-tenant.json'), '{}');
    expect(checkoutKeyPrefix(root)).toBe('bb');
  });
});
