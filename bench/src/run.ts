/**
 * `pnpm bench` (full) and `pnpm bench:quick`: runs scenarios S1–S6 of issue 9, S7 of issue 18, S8 of issue 20 and S10–S12
 * of issue 26 (Redis memory, intake added latency, Redis ceilings), each beside its baseline, prints a table
 * and writes `benchmarks.md`, `benchmarks.json` and the SVG plots (full: `docs/`; quick: `bench/results/quick/`).
 *
 *   pnpm bench [--only S1,S3] [--out DIR] [--profile] [--s7-connections N]
 *   pnpm bench:quick
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { buildBundles } from '../../infra/build/bundle.mjs';
import { Harness } from './harness.js';
import { FULL, type Plan, progress, QUICK, type ScenarioId, type ScenarioResult } from './model.js';
import { REPO_ROOT, stopAll } from './procs.js';
import { profileIn, profileMarkdown, summarizeProfile } from './profile.js';
import { describeMachine, jsonReport, markdown, textTable } from './report.js';
import { runS1 } from './scenarios/s1-ingest.js';
import { runS2 } from './scenarios/s2-pack.js';
import { runS3S4 } from './scenarios/s3-s4-route-deliver.js';
import { runS5 } from './scenarios/s5-end-to-end.js';
import { runS6 } from './scenarios/s6-headline.js';
import { runS7 } from './scenarios/s7-waits.js';
import { runS8 } from './scenarios/s8-deadlines.js';
import { runS10 } from './scenarios/s10-memory.js';
import { runS11 } from './scenarios/s11-latency.js';
import { runS12 } from './scenarios/s12-redis-ceilings.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const base = quick ? QUICK : FULL;
// `--reps N`, `--s3-lines N`, `--s3-embedding-inputs N`, `--s3-big-lines N` and `--s3-route-only` (S3's chat reps and its embeddings variant, no S4, no large chat file) make a
// shorter run of the routing figures on a busy box.
const plan: Plan = {
  ...base,
  profile: argv.includes('--profile'),
  reps: arg('--reps') ? Number(arg('--reps')) : base.reps,
  s3: {
    ...base.s3,
    ...(argv.includes('--s3-route-only') ? { routeOnly: true, bigLines: undefined } : {}),
    ...(arg('--s3-lines') ? { lines: Number(arg('--s3-lines')) } : {}),
    ...(arg('--s3-embedding-inputs') ? { embeddingInputs: Number(arg('--s3-embedding-inputs')) } : {}),
    ...(arg('--s3-big-lines') ? { bigLines: Number(arg('--s3-big-lines')) } : {}),
  },
  // `--s7-connections N`: S7 with N waiting connections (quick mode holds 1 000; the target is stated for 10 000).
  s7: arg('--s7-connections') ? { connections: Number(arg('--s7-connections')) } : base.s7,
};
const only = new Set(
  (arg('--only') ?? 'S1,S2,S3,S4,S5,S6,S7,S8,S10,S11,S12').split(',').map((s) => s.trim().toUpperCase()),
);
const outDir = arg('--out') ?? join(REPO_ROOT, quick ? 'bench/results/quick' : 'docs');

const SCENARIOS: Array<{
  id: ScenarioId;
  /** `earlier`: the results of the scenarios before it in this run (S12 states S1–S4 against its ceilings). */
  run: (h: Harness, plan: Plan, earlier: ScenarioResult[]) => Promise<ScenarioResult | ScenarioResult[]>;
}> = [
  { id: 'S1', run: runS1 },
  { id: 'S2', run: runS2 },
  { id: 'S3', run: runS3S4 },
  { id: 'S5', run: runS5 },
  { id: 'S6', run: runS6 },
  { id: 'S7', run: runS7 },
  { id: 'S8', run: runS8 },
  { id: 'S10', run: runS10 },
  { id: 'S11', run: runS11 },
  { id: 'S12', run: runS12 },
];

const startedAt = new Date();
const loadAtStart = loadavg()[0] ?? 0;
// Other sessions may be running test suites on this 2-core box; the report says how busy it was.
let peakLoad = loadAtStart;
setInterval(() => {
  peakLoad = Math.max(peakLoad, loadavg()[0] ?? 0);
}, 5_000).unref();
const harness = new Harness();
const results: ScenarioResult[] = [];
let failed = false;
const onSignal = () => {
  void stopAll().finally(() => harness.close().finally(() => process.exit(130)));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
try {
  // The services run from their bundles, as in production: build them from the sources as they are now (seconds).
  const built = Date.now();
  await buildBundles({ quiet: true });
  progress('bench', `service bundles built (pnpm build) in ${Date.now() - built} ms`);
  await harness.start();
  progress('bench', `${plan.mode} run; Redis ${harness.redisVersion}; results to ${outDir}`);
  for (const s of SCENARIOS) {
    if (!only.has(s.id)) continue;
    const t = Date.now();
    progress(s.id, 'start');
    try {
      const r = await s.run(harness, plan, results);
      results.push(...(Array.isArray(r) ? r : [r]));
    } catch (err) {
      failed = true;
      progress(s.id, `FAILED: ${(err as Error).stack ?? String(err)}`);
      await stopAll();
    }
    await harness.flush();
    progress(s.id, `done in ${Math.round((Date.now() - t) / 1000)} s`);
  }
  if (plan.mode === 'full' || plan.profile) await profileUnmet(harness, plan, results);
} finally {
  await stopAll();
  await harness.close();
}

/**
 * For every stage whose target was not met, one more (shorter) run with V8 CPU profiles of the service under test, so
 * that the report says what limits it. Separate from the measured runs: the profiler costs a few per cent.
 */
async function profileUnmet(h: Harness, base: Plan, all: ScenarioResult[]): Promise<void> {
  const unmet = (id: ScenarioId) => all.find((r) => r.id === id)?.rows.some((r) => r.met === false) ?? false;
  const p: Plan = {
    ...base,
    reps: 1,
    profile: true,
    s1: { ...base.s1, rates: [], closedS: 8 },
    s2: { ...base.s2, count: Math.min(base.s2.count, 20_000), bigBodyBytes: undefined, embeddings: false },
    s3: { lines: Math.min(base.s3.lines, 20_000), bigLines: undefined, embeddingInputs: undefined },
  };
  const attach = (id: ScenarioId, service: string) => {
    const file = h.cpuProfDir ? profileIn(join(h.cpuProfDir, service)) : undefined;
    const target = all.find((r) => r.id === id);
    if (!file || !target) return;
    target.notes.push(profileMarkdown(service, summarizeProfile(file)));
  };
  const jobs: Array<{ ids: ScenarioId[]; run: () => Promise<unknown>; services: Array<[ScenarioId, string]> }> = [
    { ids: ['S1'], run: () => runS1(h, p), services: [['S1', 'ingest-api']] },
    { ids: ['S2'], run: () => runS2(h, p), services: [['S2', 'packer']] },
    {
      ids: ['S3', 'S4'],
      run: () => runS3S4(h, p),
      services: [
        ['S3', 'poller'],
        ['S4', 'dispatcher'],
      ],
    },
  ];
  for (const job of jobs) {
    if (!job.ids.some(unmet)) continue;
    h.cpuProfDir = join(h.dir, `profiles-${job.ids.join('')}`);
    mkdirSync(h.cpuProfDir, { recursive: true });
    progress(job.ids.join('+'), 'target not met: one more run with CPU profiles');
    try {
      await job.run();
      await h.flush();
      for (const [id, service] of job.services) if (unmet(id)) attach(id, service);
    } catch (err) {
      progress(job.ids.join('+'), `profiling run failed: ${(err as Error).message}`);
      await stopAll();
    }
  }
  h.cpuProfDir = undefined;
}

const durationS = (Date.now() - startedAt.getTime()) / 1000;
const machine = describeMachine(harness.redisVersion, loadAtStart);
const busy = machine.load_avg_1m_at_start > machine.cores || peakLoad > machine.cores;
const preface = [
  ...(busy
    ? [
        `**Shared box.** Other work was running on this machine during the run (1-minute load average ` +
          `${machine.load_avg_1m_at_start} at start, up to ${Math.round(peakLoad * 10) / 10} during, ` +
          `${machine.load_avg_1m_at_end} at end, on ${machine.cores} cores), so every figure — batchbridge's and the ` +
          "baselines' alike — is lower and noisier than on a quiet machine. Compare each figure with its baseline.",
      ]
    : []),
  `**Shared CPU.** Every server under test runs in its own process, so the load generator and the server do not share ` +
    `an event loop — but this machine has ${machine.cores} cores, which the load generator, the services, the ` +
    'simulator, the receiver and Redis all share. Absolute figures are therefore lower than on a machine where the ' +
    'client runs elsewhere; the baselines suffer the same handicap.',
];
// With --only, the scenarios not re-run keep their figures from the last run of this mode (bench/results/).
const sidecar = join(REPO_ROOT, `bench/results/${plan.mode}-scenarios.json`);
if (argv.includes('--only') && existsSync(sidecar)) {
  const earlier = JSON.parse(readFileSync(sidecar, 'utf8')) as ScenarioResult[];
  const rerun = new Set(results.map((r) => r.id));
  results.push(...earlier.filter((r) => !rerun.has(r.id)));
  results.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
}
mkdirSync(join(REPO_ROOT, 'bench/results'), { recursive: true });
writeFileSync(sidecar, JSON.stringify(results));
const input = { plan, machine, startedAt, durationS, results, preface };
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'benchmarks.md'), markdown(input));
// The repository's formatter owns markdown layout (it pads tables); format the report so that `pnpm lint` stays clean.
try {
  execFileSync(join(REPO_ROOT, 'node_modules/.bin/biome'), ['format', '--write', join(outDir, 'benchmarks.md')], {
    cwd: REPO_ROOT,
    stdio: 'ignore',
  });
} catch {
  // Biome versions without markdown support skip the file; the report is valid markdown either way.
}
writeFileSync(join(outDir, 'benchmarks.json'), jsonReport(input));
for (const r of results) for (const c of r.charts) writeFileSync(join(outDir, c.file), c.svg);
process.stdout.write(`\n${textTable(results)}\n\n`);
process.stdout.write(
  `batchbridge bench (${plan.mode}${plan.mode === 'quick' ? ': one run per figure, shorter runs' : ''}) took ${Math.round(durationS)} s; report in ${outDir}\n`,
);
process.exit(failed ? 1 : 0);
