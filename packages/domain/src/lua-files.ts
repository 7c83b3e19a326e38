/**
 * The text of every `.lua` file under `scripts/`, by name relative to it without the extension (`claim-1`,
 * `includes/move`). Read from disk when running the sources (tsx, vitest); in a service bundle this module is replaced
 * at build time by the same table with the texts inlined (infra/build/bundle.mjs, plugin `inline-lua`), so a bundle
 * needs no file beside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

function readLuaFiles(): Record<string, string> {
  const root = fileURLToPath(new URL('./scripts/', import.meta.url));
  const out: Record<string, string> = {};
  const walk = (dir: string, prefix: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith('.lua')) {
        out[`${prefix}${entry.name.slice(0, -4)}`] = readFileSync(join(dir, entry.name), 'utf8');
      }
    }
  };
  walk(root, '');
  return out;
}

export const LUA_FILES: Readonly<Record<string, string>> = readLuaFiles();
