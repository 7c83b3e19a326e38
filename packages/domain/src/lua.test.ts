// The Lua side of the domain: every script compiles in Redis, opens with its header, and the generated prelude
// spells keys and job ids exactly as keys.ts and job-ids.ts do (the scripts spell neither themselves).
import { sharedRedisUrl } from '@batchbridge/test-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_ID_PREFIXES, jobIds } from './job-ids.js';
import { PARTITION_KEYS, PartitionKeys, parseKeyTemplate } from './keys.js';
import { BATCH_TRANSITIONS, FLUSH_TRANSITIONS, TRANSITIONS } from './lifecycle.js';
import { preludeLua, scriptCommands, scriptSource } from './lua.js';
import { LUA_FILES } from './lua-files.js';

let redis: Redis;
let stopRedis: () => Promise<void>;

beforeAll(async () => {
  const shared = await sharedRedisUrl();
  stopRedis = shared.stop;
  redis = new Redis(shared.url);
});
afterAll(async () => {
  await redis.quit();
  await stopRedis();
});

/** Runs a chunk after the prelude (no keys touched). */
const evalPrelude = (body: string) => redis.eval(`${preludeLua()}\n${body}`, 0);

describe('Lua scripts', () => {
  it('opens every file with a header comment; a command header lists its keys, arguments and output', () => {
    expect(Object.keys(LUA_FILES).length).toBeGreaterThan(10);
    for (const [name, text] of Object.entries(LUA_FILES)) {
      expect(text.startsWith('--[[\n'), name).toBe(true);
      if (name.startsWith('includes/')) continue;
      const header = text.slice(0, text.indexOf(']]'));
      expect(header, name).toMatch(/Input:[\s\S]*KEYS\[/);
      expect(header, name).toMatch(/Output:/);
    }
  });

  it('compiles every command in Redis, with its includes and the prelude', async () => {
    const commands = scriptCommands();
    expect(commands.map((c) => c.command)).toContain('bbFinishBatch');
    for (const { file } of commands) {
      const sha = await redis.script('LOAD', scriptSource(file));
      expect(sha, file).toMatch(/^[0-9a-f]{40}$/);
    }
  });

  it('includes a helper once, however many includes ask for it', () => {
    const source = scriptSource('cancel-1');
    expect(source.match(/local function move\(/g)).toHaveLength(1);
    expect(source.match(/local function outbox_add\(/g)).toHaveLength(1);
    expect(source).not.toMatch(/--- @include/);
  });

  it('builds every key in Lua exactly as PartitionKeys does', async () => {
    const k = new PartitionKeys('{bb:p3}') as unknown as Record<string, unknown>;
    for (const [name, template] of Object.entries(PARTITION_KEYS)) {
      const { params } = parseKeyTemplate(template);
      const args = params.map((_, i) => `a${i}`);
      const member = k[name];
      const expected = typeof member === 'function' ? (member as (...a: string[]) => string).apply(k, args) : member;
      const fn = `key_${name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
      const lua = await evalPrelude(`return ${fn}('{bb:p3}'${args.map((a) => `, '${a}'`).join('')})`);
      expect(lua, name).toBe(expected);
    }
  });

  it('builds the job ids in Lua exactly as jobIds does', async () => {
    for (const kind of Object.keys(JOB_ID_PREFIXES) as Array<keyof typeof JOB_ID_PREFIXES>) {
      expect(await evalPrelude(`return job_id_${kind}('x1')`), kind).toBe(jobIds[kind]('x1'));
    }
  });

  it('carries the transition tables of lifecycle.ts', async () => {
    const tables: Array<[string, Readonly<Record<string, readonly string[]>>]> = [
      ['ALLOWED', TRANSITIONS],
      ['FLUSH_ALLOWED', FLUSH_TRANSITIONS],
      ['BATCH_ALLOWED', BATCH_TRANSITIONS],
    ];
    for (const [table, transitions] of tables) {
      const lua = (await evalPrelude(
        `local out = {} for from, tos in pairs(${table}) do for to in pairs(tos) do out[#out + 1] = from .. '>' .. to end end return out`,
      )) as string[];
      const expected = Object.entries(transitions).flatMap(([from, tos]) => tos.map((to: string) => `${from}>${to}`));
      expect(lua.sort(), table).toEqual(expected.sort());
    }
  });
});
