/**
 * `pnpm start` without REDIS_KEY_PREFIX (issue 14.3): each checkout gets a prefix of its own, kept in
 * `<data dir>/key-prefix`, so two clones on one laptop sharing a Redis never claim each other's flushes or deliver each
 * other's outcomes. A checkout that already ran under the old shared default (its dev tenant exists, no prefix file
 * yet) keeps `bb`, so its queued work is not orphaned.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SHAPE = /^[A-Za-z0-9_-]{1,32}$/;

/** The prefix of the checkout whose data folder is `dataRoot` (`.data` by default), created on first use. */
export function checkoutKeyPrefix(dataRoot: string): string {
  const file = join(dataRoot, 'key-prefix');
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (SHAPE.test(stored)) return stored;
  }
  const prefix = existsSync(join(dataRoot, 'dev-tenant.json')) ? 'bb' : `bb${randomBytes(4).toString('hex')}`;
  mkdirSync(dataRoot, { recursive: true });
  writeFileSync(file, `${prefix}\n`);
  return prefix;
}
