// The package as a user gets it: `pnpm pack` builds and packs @batchbridge/client, `npm install --offline` puts the
// tarball into an empty project outside the workspace (the package has no dependencies to download; `openai`, its
// optional peer, comes from the local store), and there the client, batchOpenAI, the types under tsc --strict (with
// no @types/node: only Web APIs) and the `batchbridge` bin work against the running service.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { simulatedCompletion } from '@batchbridge/provider-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_KEY, startPipeline } from '../e2e/helpers.js';

type Pipeline = Awaited<ReturnType<typeof startPipeline>>;
const run = promisify(execFile);
const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
// The openai package the workspace installed (a directory in pnpm's store: no download).
const openaiDir = realpathSync(join(root, 'packages/client/node_modules/openai'));

let pipeline: Pipeline;
let work: string;
let app: string;

beforeAll(async () => {
  pipeline = await startPipeline({ BATCH_MAX_WAIT_MS: '300' });
  work = mkdtempSync(join(tmpdir(), 'bb-pack-'));
  app = join(work, 'app');
  await run('pnpm', ['--filter', '@batchbridge/client', 'pack', '--pack-destination', work], { cwd: root });
  const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`pnpm pack wrote no tarball in ${work}`);
  await run('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(work, tarball), openaiDir], {
    cwd: app,
  });
}, 180_000);
afterAll(async () => {
  await pipeline?.dispose();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the packed @batchbridge/client in an empty project', () => {
  it('ships dist only, with no dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/@batchbridge/client/package.json'), 'utf8'));
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(manifest.bin).toEqual({ batchbridge: './dist/cli/main.js' });
    expect(readdirSync(join(app, 'node_modules/@batchbridge/client'))).not.toContain('src');
  });

  it('runs the client and batchOpenAI, and type-checks under tsc --strict with Web APIs only', async () => {
    const code = `
import { BatchbridgeClient, isFinal, type BatchbridgeRequest } from '@batchbridge/client';
import { batchOpenAI } from '@batchbridge/client/openai';
const [baseURL, apiKey] = [process.argv[2]!, process.argv[3]!];
const bb = new BatchbridgeClient({ baseURL, apiKey });
const queued: BatchbridgeRequest = await bb.submit('chat', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'packed' }] });
const done = await bb.wait(queued.id, { timeoutS: 60 });
const openai = batchOpenAI({ baseURL, apiKey, wait: 60 });
const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'packed sdk' }] });
console.log(JSON.stringify({ final: isFinal(done), status: done.status, content: completion.choices[0]?.message.content }));
declare const process: { argv: string[] };
`;
    writeFileSync(join(app, 'app.ts'), code);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['ES2023', 'DOM'],
          types: [],
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: true,
          outDir: 'out',
        },
        files: ['app.ts'],
      }),
    );
    const tsc = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', app]).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(tsc).toBe('');
    const { stdout } = await run(process.execPath, [join(app, 'out/app.js'), pipeline.url, ACME_KEY], { cwd: app });
    const expected = simulatedCompletion({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'packed sdk' }] });
    expect(JSON.parse(stdout)).toEqual({
      final: true,
      status: 'completed',
      content: expected.choices[0]!.message.content,
    });
  }, 120_000);

  it('runs the batchbridge bin with npx', async () => {
    const lines = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `npx ${i}` }] }),
    );
    writeFileSync(join(app, 'in.jsonl'), `${lines.join('\n')}\n`);
    const { stdout } = await run(
      'npx',
      ['--no-install', 'batchbridge', 'submit', 'in.jsonl', '--wait', '--out', 'out.jsonl', '--json', '-q'],
      {
        cwd: app,
        env: { ...process.env, BATCHBRIDGE_BASE_URL: pipeline.url, BATCHBRIDGE_API_KEY: ACME_KEY },
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({ lines: 20, created: 20, completed: 20 });
    const results = readFileSync(join(app, 'out.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(results.map((r: { line: number; status: string }) => [r.line, r.status])).toEqual(
      lines.map((_, i) => [i + 1, 'completed']),
    );
  }, 120_000);
});
