// The `batchbridge` command against the running service: a 10 000-line submit killed (SIGKILL) halfway and run again
// answers every line exactly once — none queued twice, none lost — and writes the results file in input order; Ctrl-C
// stops cleanly and resumes; export, get and watch; and the exit codes. The CLI runs from its sources under tsx, in
// a child process, as `npx batchbridge` would run it.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { simulatedCompletion, simulatedEmbeddings } from '@batchbridge/provider-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from '../e2e/helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
// tsx's loader in this very process (not tsx's CLI, which runs the script in a child of its own: a SIGKILL must reach
// the process that submits).
const tsxLoader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const main = join(root, 'packages/client/src/cli/main.ts');

let pipeline: Pipeline;
let dir: string;

beforeAll(async () => {
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '300' });
  dir = mkdtempSync(join(tmpdir(), 'bb-cli-'));
});
afterAll(async () => {
  await pipeline?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function cli(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, ['--import', tsxLoader, main, ...args], {
    cwd: dir,
    env: {
      ...process.env,
      BATCHBRIDGE_BASE_URL: pipeline.url,
      BATCHBRIDGE_API_KEY: ACME_KEY,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolveDone) => child.once('close', (code, signal) => resolveDone({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** Entries of a state file after its header. */
function stateEntries(path: string): number {
  if (!existsSync(path)) return 0;
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).length - 1;
}

async function until(probe: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface ResultLine {
  line: number;
  custom_id: string | null;
  id: string | null;
  status: string;
  response: { status_code: number; body: unknown } | null;
  error: { code: string; message: string } | null;
}

const readResults = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as ResultLine);

describe('batchbridge submit', () => {
  it('survives a SIGKILL halfway through 10 000 lines: every line answered once, none submitted twice', async () => {
    const total = 10_000;
    const file = join(dir, 'big.jsonl');
    const lines: string[] = [];
    for (let i = 1; i <= total; i++) {
      // Mostly plain chat bodies; every 10th a provider batch line (a chat, or an embedding), with its custom_id.
      if (i % 20 === 0) {
        lines.push(
          JSON.stringify({
            custom_id: `emb-${i}`,
            method: 'POST',
            url: '/v1/embeddings',
            body: { model: 'text-embedding-3-small', input: `line ${i}`, dimensions: 8, encoding_format: 'float' },
          }),
        );
      } else if (i % 10 === 0) {
        lines.push(
          JSON.stringify({
            custom_id: `chat-${i}`,
            method: 'POST',
            url: '/v1/chat/completions',
            body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: `line ${i}` }] },
          }),
        );
      } else {
        lines.push(JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `line ${i}` }] }));
      }
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    const out = join(dir, 'big.results.jsonl');
    const state = `${file}.bbstate`;
    const args = ['submit', file, '--wait', '--out', out, '--concurrency', '64', '--json'];

    const first = cli(args);
    await until(() => stateEntries(state) >= total / 2, 600_000);
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stderr).toMatch(/submit .* \d+\/10000 \d+% [\d.]+\/s ETA/);
    expect(existsSync(out)).toBe(false);
    const before = stateEntries(state);
    expect(before).toBeLessThan(total);

    const second = await cli(args).done;
    expect(second.stderr).toContain('wait');
    expect(second.code).toBe(0);
    const summary = JSON.parse(second.stdout.trim().split('\n').at(-1)!) as Record<string, number>;
    expect(summary.already_submitted).toBeGreaterThanOrEqual(total / 2);
    expect(summary.already_submitted! + summary.created! + summary.replayed!).toBe(total);
    expect(summary.completed).toBe(total);

    const results = readResults(out);
    expect(results.map((r) => r.line)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.id)).size).toBe(total);
    for (const r of results) {
      expect(r.status).toBe('completed');
      const i = r.line;
      if (i % 20 === 0) {
        expect(r.custom_id).toBe(`emb-${i}`);
        const body = {
          model: 'text-embedding-3-small',
          input: `line ${i}`,
          dimensions: 8,
          encoding_format: 'float' as const,
        };
        expect(r.response!.body).toEqual(simulatedEmbeddings(body));
      } else {
        expect(r.custom_id).toBe(i % 10 === 0 ? `chat-${i}` : null);
        const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: `line ${i}` }] };
        const answer = r.response!.body as ReturnType<typeof simulatedCompletion>;
        expect(answer.choices[0]!.message.content).toBe(simulatedCompletion(body).choices[0]!.message.content);
      }
    }
    // The provider saw each line once: none was queued twice by the resumed run.
    const counters = pipeline.sim!.counters();
    expect(counters.linesReceived).toBe(total);
    expect(counters.customIdsAnsweredTwice).toEqual([]);
  }, 900_000);

  it('stops on Ctrl-C with exit 130 and resumes; refused lines make exit 1 and are in the results', async () => {
    const file = join(dir, 'small.jsonl');
    const lines = Array.from({ length: 600 }, (_, i) =>
      JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `small ${i}` }] }),
    );
    lines[99] = '{not json';
    lines[199] = JSON.stringify({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] });
    writeFileSync(file, `${lines.join('\n')}\n`);
    const state = `${file}.bbstate`;
    const first = cli(['submit', file, '--concurrency', '2', '--json']);
    await until(() => stateEntries(state) >= 50, 60_000);
    first.child.kill('SIGINT');
    const stopped = await first.done;
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toContain('run the same command again to resume');
    expect(JSON.parse(stopped.stdout.trim())).toMatchObject({ interrupted: true });

    const out = join(dir, 'small.results.jsonl');
    const second = await cli(['submit', file, '--wait', '--out', out, '--json', '--quiet']).done;
    expect(second.code).toBe(1);
    const results = readResults(out);
    expect(results).toHaveLength(600);
    expect(results[99]).toMatchObject({ line: 100, status: 'invalid', error: { code: 'invalid_json' } });
    expect(results[199]).toMatchObject({ line: 200, status: 'refused', error: { code: 'model_not_found' } });
    expect(results.filter((r) => r.status === 'completed')).toHaveLength(598);
    expect(new Set(results.map((r) => r.id).filter(Boolean)).size).toBe(598);
    // export writes the same results again, without waiting; get prints one request.
    const exported = await cli(['export', file, '--out', join(dir, 'export.jsonl'), '--quiet']).done;
    expect(exported.code).toBe(1); // the refused and the invalid line
    expect(readResults(join(dir, 'export.jsonl'))).toEqual(results);
    const got = await cli(['get', results[41]!.id!, '--json']).done;
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ id: results[41]!.id, status: 'completed' });

    // A changed input is not resumed with the old keys.
    writeFileSync(file, `${lines.slice(0, 10).join('\n')}\n`);
    const changed = await cli(['submit', file]).done;
    expect(changed.code).toBe(2);
    expect(changed.stderr).toContain('--restart');
  }, 300_000);

  it('watch <id> waits for one request; exit codes name what failed', async () => {
    const res = await fetch(`${pipeline.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME_KEY}`, 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'watch me' }] }),
    });
    const { id } = (await res.json()) as { id: string };
    const watched = await cli(['watch', id, '--json']).done;
    expect(watched.code).toBe(0);
    expect(JSON.parse(watched.stdout)).toMatchObject({ id, status: 'completed' });

    expect((await cli(['get', 'breq_doesnotexist0000000000000']).done).code).toBe(1);
    expect((await cli(['get', id], { BATCHBRIDGE_API_KEY: 'bb_wrong_key_0123456789' }).done).code).toBe(3);
    const noKey = await cli(['get', id], { BATCHBRIDGE_API_KEY: '' }).done;
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('BATCHBRIDGE_API_KEY');
    expect((await cli(['frobnicate']).done).code).toBe(2);
    expect((await cli(['submit', join(dir, 'missing.jsonl')]).done).code).toBe(2);
  }, 120_000);

  it('batch uploads a file, creates a Batch API batch, watches it and writes its output file; replay runs a range', async () => {
    const bodies = Array.from({ length: 20 }, (_, i) => ({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `cli batch line ${i}` }],
    }));
    const input = join(dir, 'batch-api.jsonl');
    writeFileSync(
      input,
      `${bodies.map((body, i) => JSON.stringify({ custom_id: `line-${i}`, method: 'POST', url: '/v1/chat/completions', body })).join('\n')}\n`,
    );
    const out = join(dir, 'batch-api.out.jsonl');
    const run = await cli(['batch', input, '--out', out, '--json']).done;
    expect(run.code, run.stderr).toBe(0);
    const batch = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as Record<string, any>;
    expect(batch).toMatchObject({ object: 'batch', status: 'completed', request_counts: { total: 20, completed: 20 } });
    const lines = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(20);
    for (const line of lines) {
      const i = Number(String(line.custom_id).slice('line-'.length));
      expect(line.response.status_code).toBe(200);
      expect(line.response.body.choices[0].message.content).toBe(
        simulatedCompletion(bodies[i]!).choices[0]!.message.content,
      );
    }
    // Watching the finished batch again answers at once with the same batch.
    const again = await cli(['watch', batch.id, '--json']).done;
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ id: batch.id, status: 'completed' });

    const since = new Date(Date.now() - 3_600_000).toISOString();
    const replayed = await cli(['replay', '--since', since, '--dead', '--wait', '--json']).done;
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(JSON.parse(replayed.stdout.trim())).toMatchObject({
      object: 'delivery.replay',
      status: 'dead',
      state: 'done',
      queued: 0,
    });
    expect((await cli(['replay']).done).stderr).toContain('--since');

    // What the key's answered requests cost: the 20 lines above at least, priced (gpt-4o-mini), cheaper than realtime.
    const spent = await cli(['usage', '--group-by', 'model', '--json']).done;
    expect(spent.code, spent.stderr).toBe(0);
    const report = JSON.parse(spent.stdout.trim());
    const mini = report.data.find((r: { model: string }) => r.model === 'gpt-4o-mini');
    expect(mini.requests).toBeGreaterThanOrEqual(20);
    expect(mini.usd).toBeGreaterThan(0);
    expect(mini.saved_usd).toBeGreaterThan(0);
    expect(mini.realtime_usd).toBeCloseTo(mini.usd + mini.saved_usd, 9);
    expect((await cli(['usage', '--group-by', 'tenant']).done).code).toBe(2);
  }, 120_000);
});
