/**
 * Loads the Lua scripts of `scripts/` (one file per command, each opening with a comment listing its KEYS, ARGV and
 * output) and defines them as ioredis commands, which send them by EVALSHA (SCRIPT LOAD on the first NOSCRIPT) — on a
 * Cluster too. Every script runs on one partition: all its keys share the partition's hash tag.
 *
 * A script is the generated prelude (below: the transition tables of lifecycle.ts, a `key_<name>(tag, ...)` function
 * per key of keys.ts and a `job_id_<kind>(id)` function per job id of job-ids.ts — the scripts spell neither) followed
 * by its file, in which each `--- @include "name"` line is replaced by `scripts/includes/<name>.lua` (itself resolved
 * the same way; an include already in the script is not repeated).
 *
 * File names say how the command is called: `<name>-<k>.lua` takes k keys; `<name>.lua` takes a variable number, the
 * key count first. Command names are `bb` + the name in camel case (`claim-more-1.lua` → `bbClaimMore`). Per-call
 * options travel as one JSON argument (ARGV[1], `cjson.decode`d), bulky strings (bodies, responses) as their own.
 */
import type { Cluster, Redis } from 'ioredis';
import { JOB_ID_PREFIXES } from './job-ids.js';
import { PARTITION_KEYS, parseKeyTemplate } from './keys.js';
import { batchTransitionsLua, flushTransitionsLua, openStatusesLua, transitionsLua } from './lifecycle.js';
import { LUA_FILES } from './lua-files.js';

type Client = Redis | Cluster;
type Arg = string | number | Buffer;

/** The commands of `scripts/` as the stores call them: one per file (lua.test.ts compiles every file). */
export interface ScriptCommands {
  /** Variadic keys: the first argument is the number of keys. */
  bbEnqueueMany(numKeys: number, ...keysAndArgs: Arg[]): Promise<unknown[]>;
  bbCancel(key: string, options: string): Promise<unknown[]>;
  bbClaim(key: string, options: string): Promise<unknown[]>;
  bbClaimMore(key: string, options: string): Promise<unknown[]>;
  bbSealFlush(key: string): Promise<number>;
  bbLeaseFlush(key: string): Promise<number>;
  bbRecordUpload(key: string, options: string): Promise<number>;
  bbResetUpload(key: string, options: string): Promise<number>;
  bbMarkCreateStarted(key: string, options: string): Promise<number>;
  bbMarkCreateEnded(key: string, options: string): Promise<number>;
  bbRecordCreated(key: string, options: string): Promise<number>;
  bbSubmitChunk(key: string, options: string): Promise<number>;
  bbFinishSubmission(key: string, options: string): Promise<unknown[]>;
  bbFailFlush(key: string, options: string): Promise<string[]>;
  bbDropFromFlush(key: string, options: string, ...ids: string[]): Promise<number>;
  /** Variadic keys: the first argument is the number of keys. */
  bbSettleMany(numKeys: number, ...keysAndArgs: Arg[]): Promise<string[]>;
  /** Variadic keys: the first argument is the number of keys. */
  bbSchemasMany(numKeys: number, ...keys: string[]): Promise<Array<number | string>>;
  bbSetWebhookMark(key: string, mark: string): Promise<number>;
  bbMarkDelivered(key: string, options: string): Promise<number>;
  bbMarkGone(key: string, options: string): Promise<number>;
  bbMarkDead(key: string, options: string): Promise<number | string>;
  bbRecordAttempt(key: string, options: string, attempt: string): Promise<number>;
  bbRotateSecret(key: string, options: string): Promise<string>;
  bbEndpointGate(key: string, options: string): Promise<string[]>;
  bbEndpointResult(key: string, unhealthy: string, options: string): Promise<string>;
  bbEnableEndpoint(key: string, unhealthy: string, options: string): Promise<number>;
  bbReplayUpdate(key: string, options: string): Promise<number>;
  bbPruneDead(key: string, options: string): Promise<number>;
  bbRecordPoll(key: string, options: string): Promise<string>;
  bbFinishBatch(key: string, options: string): Promise<number>;
  bbFacadeCreate(key: string, options: string): Promise<string[]>;
  bbFacadeEnqueue(key: string, options: string): Promise<Array<string | number>>;
  bbFacadeCancel(key: string, options: string): Promise<string[]>;
  bbFacadeExpire(key: string, options: string): Promise<number>;
  bbFacadeEndPass(key: string, options: string): Promise<Array<string | number>>;
  bbFacadeFileCommit(key: string, options: string): Promise<number>;
  bbFacadeFileDelete(key: string, options: string): Promise<string>;
  /** Buffers: the answers are streamed out as read, never decoded. */
  bbFacadeResultsBuffer(key: string, options: string, ...ids: string[]): Promise<Array<Buffer | null>>;
  bbSetFlushProvider(key: string, options: string): Promise<number>;
  bbProviderHealth(key: string, options: string): Promise<[string, number, number, number]>;
  bbLaneClaim(key: string, options: string): Promise<string[]>;
  bbLaneWindow(key: string, options: string): Promise<string[]>;
  /** Variadic keys: the first argument is the number of keys. */
  bbEscalateBatch(numKeys: number, ...keysAndArgs: Arg[]): Promise<[string, number]>;
  bbLaneAcquire(budget: string, inflight: string, backoff: string, options: string): Promise<[number, number]>;
  bbAggAdd(key: string, options: string): Promise<[number, number]>;
  bbAggTake(key: string, options: string): Promise<string[]>;
  bbAggDone(key: string, options: string): Promise<number>;
  bbDlvClaim(key: string, options: string): Promise<unknown[]>;
  bbDlvComplete(key: string, options: string, ...items: string[]): Promise<unknown[]>;
  bbDlvAdd(key: string, options: string, ...members: string[]): Promise<number>;
  bbDlvExtend(key: string, options: string, ...membersAndFences: Array<string | number>): Promise<number[]>;
}

export type ScriptClient = Client & ScriptCommands;

const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const luaString = (s: string) => {
  if (!/^[\w:.-]*$/.test(s)) throw new Error(`key or job id part not safe as a Lua literal: ${s}`);
  return `'${s}'`;
};

/** The generated prelude of every script: transition tables, key and job-id functions. */
export function preludeLua(): string {
  const lines = [
    '-- Generated by lua.ts from lifecycle.ts, keys.ts and job-ids.ts: the scripts spell no key and no job id.',
    `local ALLOWED = ${transitionsLua()}`,
    `local OPEN = ${openStatusesLua()}`,
    `local FLUSH_ALLOWED = ${flushTransitionsLua()}`,
    `local BATCH_ALLOWED = ${batchTransitionsLua()}`,
  ];
  for (const [name, template] of Object.entries(PARTITION_KEYS)) {
    const { literals, params } = parseKeyTemplate(template);
    const parts = [`tag .. ${luaString(`:${literals[0]}`)}`];
    params.forEach((param, i) => {
      parts.push(param);
      if (literals[i + 1]) parts.push(luaString(literals[i + 1] as string));
    });
    lines.push(`local function key_${snake(name)}(${['tag', ...params].join(', ')}) return ${parts.join(' .. ')} end`);
  }
  for (const [kind, prefix] of Object.entries(JOB_ID_PREFIXES)) {
    lines.push(`local function job_id_${snake(kind)}(id) return ${luaString(prefix)} .. id end`);
  }
  return `${lines.join('\n')}\n`;
}

const INCLUDE = /^--- @include "([\w-]+)"[ \t]*$/gm;

/** A script file with its includes resolved (not the prelude). */
export function resolveIncludes(name: string, included = new Set<string>()): string {
  const text = LUA_FILES[name];
  if (text === undefined) throw new Error(`no Lua script ${name}.lua`);
  return text.replace(INCLUDE, (_, include: string) => {
    const file = `includes/${include}`;
    if (included.has(file)) return `-- (${include} included above)`;
    included.add(file);
    return resolveIncludes(file, included).trimEnd();
  });
}

/** The full source of a command script: prelude + file with includes. */
export function scriptSource(name: string): string {
  return `${preludeLua()}${resolveIncludes(name)}`;
}

/** The commands of `scripts/`: command name, file, number of keys (undefined: variadic). */
export function scriptCommands(): Array<{ command: string; file: string; numberOfKeys: number | undefined }> {
  return Object.keys(LUA_FILES)
    .filter((file) => !file.includes('/'))
    .map((file) => {
      const m = /^(.*?)(?:-(\d+))?$/.exec(file) as RegExpExecArray;
      const base = m[1] as string;
      const command = `bb${base.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}`;
      return { command, file, numberOfKeys: m[2] === undefined ? undefined : Number(m[2]) };
    });
}

/**
 * Defines the commands on a client (once per client: a second store on the same client finds them). On a Cluster,
 * ioredis's auto-pipelining picks the node by the first argument of a command it does not know — for the variadic
 * scripts that is the key count, not a key — so the call would land on a wrong master (the cluster test's intake
 * answered 503 without this): sent on their own, they are routed by their keys.
 */
export function defineScripts(redis: Client): ScriptClient {
  const variadic: string[] = [];
  for (const { command, file, numberOfKeys } of scriptCommands()) {
    if (numberOfKeys === undefined) variadic.push(command);
    if (command in redis) continue;
    const lua = scriptSource(file);
    if (numberOfKeys === undefined) redis.defineCommand(command, { lua });
    else redis.defineCommand(command, { numberOfKeys, lua });
  }
  const client = redis.options as { autoPipeliningIgnoredCommands?: string[] };
  const ignored = client.autoPipeliningIgnoredCommands ?? [];
  const missing = variadic.filter((name) => !ignored.includes(name));
  if (missing.length > 0) client.autoPipeliningIgnoredCommands = [...ignored, ...missing];
  return redis as ScriptClient;
}
