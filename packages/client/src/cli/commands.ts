/** The commands of `batchbridge`: submit, watch, export, get, cancel, redeliver; batch and replay in batch-commands.ts. */
import { existsSync, renameSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { BatchbridgeClient, isFinal } from '../client.js';
import { endpointPath } from '../endpoints.js';
import { BatchbridgeError } from '../errors.js';
import type { BatchbridgeRequest, BatchEndpoint } from '../types.js';
import { batchFile, replay, usage as usageReport, watchBatch } from './batch-commands.js';
import { EXIT, UsageError } from './exit.js';
import { parseLine, readLines } from './lines.js';
import type { Values } from './main.js';
import { Progress } from './progress.js';
import {
  createState,
  fingerprint,
  idempotencyKey,
  type LineError,
  type LoadedState,
  readState,
  StateWriter,
} from './state.js';

export function usage(): string {
  return `Usage: batchbridge <command> [options]

Commands:
  submit <file.jsonl>        Queue every line (an endpoint body, or a provider batch line {custom_id,method,url,body}).
                             Resumable: run the same command again after Ctrl-C or a crash.
      --wait                 Stay until every line has its outcome (long-poll), then write --out.
      --out, -o <file>       Results, one JSON line per input line in input order (with --wait).
      --concurrency, -c <n>  Requests in flight (default 16).
      --endpoint, -e <name>  Endpoint of plain bodies: chat, embeddings, responses, completions, moderations
                             (default: chat for bodies with messages, completions for bodies with prompt).
      --callback-url <url>   Webhook of every request (default: none, or the tenant's default).
      --state <file>         State file (default <file.jsonl>.bbstate).
      --wait-timeout <s>     Give up waiting after this many seconds (default 86400); exit 4.
      --restart              Forget an existing state file and start a new run (new Idempotency-Keys).
  watch <id|file.jsonl>      Wait for one request, or for every line of a submitted file, showing progress.
  batch <file.jsonl>         The Batch API: upload a file of provider batch lines, create a batch, watch it.
      --out, -o <file>       Write its output file here when it ends; --errors <file> its error file.
  watch <batch_id>           Watch a Batch API batch (with --out / --errors as for batch).
  replay --since <time>      Send the finished outcomes since <time> (RFC 3339) again, same webhook-id each.
      --until <time>         End of the range (default now).
      --dead                 Only dead-lettered outcomes (or --status dead|failed|all; default all).
      --wait                 Stay until the replay has run through the range.
  usage                      What this key's answered requests cost, at batch and at realtime prices.
      --from, --to <date>    UTC days YYYY-MM-DD, inclusive (default: this month so far).
      --group-by <g>         model, lane or provider (default: per day, provider, model and lane).
  export <file.jsonl> --out <results.jsonl>
                             Write the results of a submitted file as they stand (no waiting).
  get <id>                   Print a request object.
  cancel <id>                Cancel a queued request.
  redeliver <id>             Send a finished request's webhook again.

Options of every command:
  --base-url <url>           batchbridge's address (or BATCHBRIDGE_BASE_URL), e.g. http://127.0.0.1:8080
  --api-key <key>            API key (or BATCHBRIDGE_API_KEY)
  --json                     Machine-readable output on stdout
  --quiet, -q                No progress on stderr
  --help, -h

Exit codes: 0 ok; 1 a line refused or a request failed/cancelled/not found; 2 usage; 3 API key refused or service
unreachable; 4 the wait ran out before every request was final; 130 interrupted (resume by running it again).
`;
}

interface Context {
  client: BatchbridgeClient;
  values: Values;
  out: (text: string) => void;
}

export async function runCommand(positionals: string[], values: Values): Promise<number> {
  const [command, ...args] = positionals;
  const baseURL = values['base-url'] ?? process.env.BATCHBRIDGE_BASE_URL;
  const apiKey = values['api-key'] ?? process.env.BATCHBRIDGE_API_KEY;
  const known = ['submit', 'watch', 'export', 'get', 'cancel', 'redeliver', 'batch', 'replay', 'usage'];
  if (!command || !known.includes(command)) {
    throw new UsageError(`unknown command '${command ?? ''}' (one of ${known.join(', ')}; --help)`);
  }
  if (!baseURL) throw new UsageError('no service address: pass --base-url or set BATCHBRIDGE_BASE_URL');
  if (!apiKey) throw new UsageError('no API key: pass --api-key or set BATCHBRIDGE_API_KEY');
  const client = new BatchbridgeClient({ baseURL, apiKey, maxRetries: 8, maxRetryDelayMs: 10_000 });
  const ctx: Context = { client, values, out: (text) => process.stdout.write(`${text}\n`) };
  const one = (what: string) => {
    if (args.length !== 1) throw new UsageError(`${command} takes one ${what}`);
    return args[0] as string;
  };
  switch (command) {
    case 'submit':
      return submit(ctx, one('file'));
    case 'watch': {
      const target = one('request id, batch id or file');
      if (/^batch_/.test(target) && !existsSync(target)) return watchBatch(ctx, target);
      return /^breq_/.test(target) && !existsSync(target) ? watchOne(ctx, target) : collect(ctx, target, 'watch');
    }
    case 'export':
      if (!values.out) throw new UsageError('export needs --out <results.jsonl>');
      return collect(ctx, one('file'), 'export');
    case 'get':
      return show(ctx, await client.get(one('request id')));
    case 'cancel':
      return show(ctx, await client.cancel(one('request id')));
    case 'redeliver':
      return show(ctx, await client.redeliver(one('request id')));
    case 'batch':
      return batchFile(ctx, one('file'));
    case 'replay':
      if (args.length > 0) throw new UsageError('replay takes no arguments: --since <time> [--until <time>] [--dead]');
      return replay(ctx);
    case 'usage':
      if (args.length > 0)
        throw new UsageError('usage takes no arguments: [--from <date>] [--to <date>] [--group-by g]');
      return usageReport(ctx);
  }
  return EXIT.usage;
}

function show(ctx: Context, request: BatchbridgeRequest): number {
  ctx.out(ctx.values.json ? JSON.stringify(request) : JSON.stringify(request, null, 2));
  return EXIT.ok;
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer`);
  return n;
}

function statePathOf(ctx: Context, file: string): string {
  return ctx.values.state ?? `${file}.bbstate`;
}

/** Interrupt handling: the first Ctrl-C stops taking new work, the second exits at once. */
function interruptible(): { stopped: () => boolean; dispose: () => void } {
  let stopped = false;
  const onSignal = () => {
    if (stopped) process.exit(EXIT.interrupted);
    stopped = true;
    process.stderr.write('\nbatchbridge: stopping after the requests in flight (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped: () => stopped,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readLines(file)) n++;
  return n;
}

async function submit(ctx: Context, file: string): Promise<number> {
  const { values, client } = ctx;
  if (!existsSync(file) || !statSync(file).isFile()) throw new UsageError(`no such file: ${file}`);
  if (values.out !== undefined && !values.wait) {
    throw new UsageError('--out needs --wait (or run export --out later, once the requests are final)');
  }
  const concurrency = positiveInt(values.concurrency, '--concurrency', 16);
  let defaultEndpoint: BatchEndpoint | undefined;
  if (values.endpoint !== undefined) {
    defaultEndpoint = endpointPath(values.endpoint);
    if (!defaultEndpoint) throw new UsageError(`unknown --endpoint '${values.endpoint}'`);
  }
  const statePath = statePathOf(ctx, file);
  const print = fingerprint(file);
  let state: LoadedState | undefined = values.restart ? undefined : readState(statePath);
  const fp = await print;
  if (state) {
    const h = state.header;
    if (h.input.sha256 !== fp.sha256 || h.input.size !== fp.size) {
      throw new UsageError(
        `${statePath} belongs to another version of ${file} (it changed since the first run): pass --restart to start over`,
      );
    }
    if ((values['callback-url'] ?? null) !== h.callback_url || (defaultEndpoint ?? null) !== h.endpoint) {
      throw new UsageError(
        `${statePath} was written with --callback-url ${h.callback_url ?? '(none)'} --endpoint ${h.endpoint ?? '(auto)'}: resume with the same options, or pass --restart`,
      );
    }
    if (Date.now() - Date.parse(h.created_at) > 23 * 3_600_000) {
      process.stderr.write(
        `batchbridge: warning: this run started at ${h.created_at}; the service keeps Idempotency-Keys for IDEMPOTENCY_TTL (24 h by default), lines it has forgotten would be queued again\n`,
      );
    }
  } else {
    const header = createState(statePath, {
      input: { path: file, ...fp },
      base_url: client.baseURL,
      endpoint: defaultEndpoint ?? null,
      callback_url: values['callback-url'] ?? null,
    });
    state = { header, lines: new Map() };
  }
  const { header, lines: known } = state;
  const total = await countLines(file);
  const counts = { created: 0, replayed: 0, refused: 0, invalid: 0, already: 0 };
  const writer = new StateWriter(statePath);
  const signals = interruptible();
  const progress = new Progress('submit', total, { quiet: values.quiet });
  let fatal: BatchbridgeError | undefined;
  let done = 0;
  const inFlight = new Set<Promise<void>>();
  const tick = () =>
    progress.update(
      done,
      `new ${counts.created} replayed ${counts.replayed}${counts.refused + counts.invalid ? ` refused ${counts.refused + counts.invalid}` : ''}`,
    );

  const sendLine = async (line: number, text: string): Promise<void> => {
    const parsed = parseLine(line, text, defaultEndpoint);
    if ('error' in parsed) {
      counts.invalid++;
      return;
    }
    try {
      const { request, replayed } = await client.submitDetailed(parsed.endpoint, parsed.body as never, {
        idempotencyKey: idempotencyKey(header.run, line),
        ...(header.callback_url ? { callbackUrl: header.callback_url } : {}),
        ...(parsed.batchLine && parsed.customId !== undefined ? { customId: parsed.customId } : {}),
      });
      writer.add({ l: line, id: request.id });
      if (replayed) counts.replayed++;
      else counts.created++;
    } catch (err) {
      if (!(err instanceof BatchbridgeError)) throw err;
      // The key or the service is the problem, not the line: stop, keep the state, resume later.
      if (err.status === 0 || err.status === 401 || err.status >= 500 || err.status === 429) {
        fatal ??= err;
        return;
      }
      const e: LineError = { status: err.status, code: err.code, message: err.message };
      writer.add({ l: line, err: e });
      counts.refused++;
    }
  };

  try {
    for await (const { line, text } of readLines(file)) {
      if (signals.stopped() || fatal) break;
      if (known.has(line)) {
        counts.already++;
        done++;
        continue;
      }
      const p = sendLine(line, text).finally(() => {
        inFlight.delete(p);
        done++;
        tick();
      });
      inFlight.add(p);
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    await writer.close();
    progress.finish();
  }

  const summary = {
    file,
    state: statePath,
    lines: total,
    submitted: counts.created + counts.replayed,
    created: counts.created,
    replayed: counts.replayed,
    already_submitted: counts.already,
    refused: counts.refused,
    invalid: counts.invalid,
  };
  if (fatal) {
    signals.dispose();
    report(ctx, { ...summary, error: { status: fatal.status, code: fatal.code, message: fatal.message } });
    process.stderr.write(
      `batchbridge: ${fatal.message}; the state is kept in ${statePath}: run the same command again to resume\n`,
    );
    return EXIT.service;
  }
  if (signals.stopped()) {
    signals.dispose();
    report(ctx, { ...summary, interrupted: true });
    process.stderr.write(`batchbridge: interrupted; run the same command again to resume (${statePath})\n`);
    return EXIT.interrupted;
  }
  if (!values.wait) {
    signals.dispose();
    report(ctx, summary);
    return counts.refused + counts.invalid > 0 ? EXIT.failed : EXIT.ok;
  }
  signals.dispose();
  return collect(ctx, file, 'wait', summary);
}

function report(ctx: Context, summary: Record<string, unknown>): void {
  if (ctx.values.json) ctx.out(JSON.stringify(summary));
  else {
    ctx.out(
      Object.entries(summary)
        .filter(([, v]) => typeof v !== 'object')
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join('\n'),
    );
  }
}

/** One line of the results file. */
interface ResultLine {
  line: number;
  custom_id: string | null;
  id: string | null;
  status: string;
  response: { status_code: number; body: unknown } | null;
  error: { code: string; message: string; status?: number } | null;
}

/**
 * Reads (`export`), or waits for (`watch`, `submit --wait`), the outcome of every line of a submitted file, in input
 * order, with up to 64 long-polls at a time; writes the results file when `--out` is given.
 */
async function collect(
  ctx: Context,
  file: string,
  mode: 'wait' | 'watch' | 'export',
  before: Record<string, unknown> = {},
): Promise<number> {
  const { values, client } = ctx;
  if (!existsSync(file)) throw new UsageError(`no such file: ${file}`);
  const statePath = statePathOf(ctx, file);
  const state = readState(statePath);
  if (!state) throw new UsageError(`no state file ${statePath}: submit ${file} first`);
  const fp = await fingerprint(file);
  if (fp.sha256 !== state.header.input.sha256) {
    throw new UsageError(`${file} changed since it was submitted (${statePath} does not match it)`);
  }
  const defaultEndpoint = state.header.endpoint ? endpointPath(state.header.endpoint) : undefined;
  const waitTimeoutS = positiveInt(values['wait-timeout'], '--wait-timeout', 86_400);
  const deadline = Date.now() + waitTimeoutS * 1000;
  const waiting = mode !== 'export';
  const total = await countLines(file);
  const outPath = values.out;
  const tmp = outPath ? `${outPath}.partial` : undefined;
  const out = tmp ? await open(tmp, 'w') : undefined;
  const counts: Record<string, number> = {};
  const signals = interruptible();
  const progress = new Progress(waiting ? 'wait' : 'export', total, { quiet: values.quiet });
  let done = 0;
  let buffer: string[] = [];
  const flush = async () => {
    if (out && buffer.length > 0) {
      const text = buffer.join('');
      buffer = [];
      await out.appendFile(text);
    }
  };

  const outcome = async (line: number, text: string): Promise<ResultLine> => {
    const parsed = parseLine(line, text, defaultEndpoint);
    const customId = 'error' in parsed ? null : (parsed.customId ?? null);
    const entry = state.lines.get(line);
    const base = { line, custom_id: customId };
    if ('error' in parsed) return { ...base, id: null, status: 'invalid', response: null, error: parsed.error };
    if (!entry) {
      return {
        ...base,
        id: null,
        status: 'not_submitted',
        response: null,
        error: { code: 'not_submitted', message: 'this line was not submitted yet: run submit again' },
      };
    }
    if ('err' in entry) return { ...base, id: null, status: 'refused', response: null, error: entry.err };
    let request: BatchbridgeRequest;
    try {
      for (;;) {
        const leftS = Math.floor((deadline - Date.now()) / 1000);
        request =
          waiting && leftS > 0 && !signals.stopped()
            ? await client.wait(entry.id, { timeoutS: Math.min(leftS, 30), pollS: 30 })
            : await client.get(entry.id);
        if (!waiting || isFinal(request) || leftS <= 0 || signals.stopped()) break;
      }
    } catch (err) {
      // Kept for RESULT_RETENTION after it finished (7 d by default): an older request is gone.
      if (err instanceof BatchbridgeError && err.status === 404) {
        return {
          ...base,
          id: entry.id,
          status: 'not_found',
          response: null,
          error: { code: err.code, message: err.message },
        };
      }
      throw err;
    }
    return {
      ...base,
      custom_id: request.custom_id ?? customId,
      id: request.id,
      status: request.status,
      response: request.response,
      error: request.error,
    };
  };

  const queue: Array<Promise<ResultLine>> = [];
  const take = async () => {
    const r = await (queue.shift() as Promise<ResultLine>);
    counts[r.status] = (counts[r.status] ?? 0) + 1;
    done++;
    buffer.push(`${JSON.stringify(r)}\n`);
    if (buffer.length >= 256) await flush();
    progress.update(done, statusLine(counts));
  };
  try {
    for await (const { line, text } of readLines(file)) {
      const p = outcome(line, text);
      p.catch(() => undefined); // awaited in order by take(); a rejection there ends the run
      queue.push(p);
      if (queue.length >= 64) await take();
    }
    while (queue.length > 0) await take();
    await flush();
  } finally {
    progress.finish();
    signals.dispose();
    await out?.close();
  }
  if (tmp && outPath) renameSync(tmp, outPath);
  const pending = total - (counts.completed ?? 0) - (counts.failed ?? 0) - (counts.cancelled ?? 0);
  const bad =
    (counts.failed ?? 0) +
    (counts.cancelled ?? 0) +
    (counts.refused ?? 0) +
    (counts.invalid ?? 0) +
    (counts.not_found ?? 0);
  const notFinal = pending - (counts.refused ?? 0) - (counts.invalid ?? 0) - (counts.not_found ?? 0);
  report(ctx, { ...before, ...(outPath ? { out: outPath } : {}), lines: total, ...counts });
  if (signals.stopped()) return EXIT.interrupted;
  if (notFinal > 0) return waiting ? EXIT.pending : bad > 0 ? EXIT.failed : EXIT.pending;
  return bad > 0 ? EXIT.failed : EXIT.ok;
}

function statusLine(counts: Record<string, number>): string {
  return Object.entries(counts)
    .map(([k, v]) => `${k} ${v}`)
    .join(' ');
}

/** `watch <id>`: the request's status as it changes, until it is final. */
async function watchOne(ctx: Context, id: string): Promise<number> {
  let request = await ctx.client.get(id);
  let last = '';
  for (;;) {
    if (request.status !== last && !ctx.values.json) process.stderr.write(`${id} ${request.status}\n`);
    last = request.status;
    if (isFinal(request)) break;
    request = await ctx.client.wait(id, { timeoutS: 30, pollS: 30 });
  }
  show(ctx, request);
  return request.status === 'completed' ? EXIT.ok : EXIT.failed;
}
