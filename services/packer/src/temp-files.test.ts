import { mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { removeStaleTempFiles } from './temp-files.js';

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('removes only its own temporary files older than the limit', async () => {
  dir = mkdtempSync(join(tmpdir(), 'bb-packer-tmp-'));
  const old = 'batchbridge-fl_0abc123-deadbeef.jsonl';
  const fresh = 'batchbridge-fl_0abc456-cafebabe.jsonl';
  const foreign = 'something-else.jsonl';
  for (const name of [old, fresh, foreign]) writeFileSync(join(dir, name), '{}\n');
  const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
  utimesSync(join(dir, old), twoHoursAgo, twoHoursAgo);
  utimesSync(join(dir, foreign), twoHoursAgo, twoHoursAgo);
  expect(await removeStaleTempFiles(dir)).toBe(1);
  expect(readdirSync(dir).sort()).toEqual([fresh, foreign].sort());
  expect(await removeStaleTempFiles(join(dir, 'missing'))).toBe(0);
});
