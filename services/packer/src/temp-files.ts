/**
 * The packer's temporary JSONL files live in one directory of their own. A process killed mid-upload leaves its file
 * behind (up to the provider's 200 MB), so leftovers older than an hour — far longer than any upload we wait for — are
 * removed at start and by every recovery sweep.
 */
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

const PATTERN = /^batchbridge-fl_[0-9a-z]+-[0-9a-f]+\.jsonl$/;

export async function ensureTempDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
}

/** Removes this packer's temporary files older than `maxAgeMs`; returns how many. */
export async function removeStaleTempFiles(dir: string, maxAgeMs = 3_600_000, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!PATTERN.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && now - info.mtimeMs > maxAgeMs) {
      await rm(path, { force: true });
      removed += 1;
    }
  }
  return removed;
}
