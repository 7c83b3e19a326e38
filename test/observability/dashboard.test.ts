// The Grafana dashboard and the README's metrics table against what the process really exposes (issue 7): after a
// small demo-like run — completions, a rejection, a result line retried in a second batch, a webhook retried, a dead
// letter — every `batchbridge_*` metric a dashboard query uses has samples on the merged /metrics, counters and
// histograms have moved, and the README's Metrics table names exactly the catalogue.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createMetrics } from '@batchbridge/metrics';
import { startWebhookReceiver, TEST_TENANTS, type WebhookReceiver } from '@batchbridge/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ObservedPipeline, startObservedPipeline } from './observed-pipeline.js';

const ROOT = resolve(import.meta.dirname, '../..');
const ACME_KEY = TEST_TENANTS[0]!.api_keys[0]!;

/** Every `batchbridge_*` name in the dashboard's query expressions (panels, nested rows, template variables). */
function dashboardMetricNames(): string[] {
  const dashboard = JSON.parse(readFileSync(resolve(ROOT, 'infra/grafana/dashboards/batchbridge.json'), 'utf8'));
  const exprs: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === 'expr' || key === 'query' || key === 'definition') && typeof value === 'string') exprs.push(value);
        else walk(value);
      }
    }
  };
  walk(dashboard);
  const names = new Set<string>();
  for (const expr of exprs) for (const m of expr.matchAll(/\bbatchbridge_[a-z0-9_]+/g)) names.add(m[0]);
  return [...names].sort();
}

/** Sample lines of /metrics by series name: `name{labels} value`. */
function samples(text: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const list = out.get(m[1]!) ?? [];
    list.push(Number(m[3]));
    out.set(m[1]!, list);
  }
  return out;
}

/** The metric names of the README's Metrics table (a row may name several, comma-separated). */
function readmeMetricNames(): string[] {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(
    readme.indexOf('\n## Metrics'),
    readme.indexOf('\n## ', readme.indexOf('\n## Metrics') + 1),
  );
  const names: string[] = [];
  for (const row of section.split('\n').filter((l) => l.startsWith('| `batchbridge_'))) {
    const first = row.split('|')[1]!;
    for (const m of first.matchAll(/`(batchbridge_[a-z0-9_]+)`/g)) names.push(m[1]!);
  }
  return names.sort();
}

function catalogueNames(): string[] {
  return Object.values(createMetrics({ processMetrics: false }).m)
    .map((metric) => (metric as unknown as { name: string }).name)
    .sort();
}

/** Histograms expose `_bucket`, `_sum`, `_count` series for a catalogue name. */
function seriesOf(name: string, exposed: Map<string, number[]>): number[] {
  return [name, `${name}_bucket`, `${name}_count`, `${name}_total`].flatMap((n) => exposed.get(n) ?? []);
}

describe('README metrics table', () => {
  it('names exactly the metrics of the catalogue', () => {
    expect(readmeMetricNames()).toEqual(catalogueNames());
  });
});

describe('Grafana dashboard', () => {
  let pipeline: ObservedPipeline;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    let flakyAttempts = 0;
    receiver = await startWebhookReceiver({
      secrets: [String(TEST_TENANTS[0]!.webhook_secret)],
      respond: (d) => {
        if (d.path.startsWith('/dead')) return { status: 500 };
        if (d.path.startsWith('/flaky')) return { status: ++flakyAttempts === 1 ? 503 : 200 };
        return { status: 200 };
      },
    });
    pipeline = await startObservedPipeline({ LOG_LEVEL: 'warn', BATCH_MAX_REQUESTS: '6' });
  });
  afterAll(async () => {
    await pipeline?.dispose();
    await receiver?.close();
  });

  it('queries only metrics that the process exposes, with samples, after a demo-like run', async () => {
    // The escalation panel's counters move only with ESCALATE_CANCEL_BATCHES and a batch turned late: the run of
    // test/e2e/escalate-cancel.test.ts checks that panel's queries against its own /metrics.
    const escalation = new Set(['batchbridge_escalation_cancels_total', 'batchbridge_escalated_requests_total']);
    const names = dashboardMetricNames().filter((n) => !escalation.has(n));
    expect(names.length).toBeGreaterThan(10);

    const submit = async (key: string, callback: string, content: string) => {
      const res = await fetch(`${pipeline.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-callback-url': callback },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }] }),
      });
      return res.status;
    };
    // First batch: the provider answers every line with a 500, so each request is retried in a second batch.
    pipeline.sim!.setFaults({ lineErrorFraction: 1, lineErrorStatus: 500 });
    const paths = ['/ok/1', '/ok/2', '/ok/3', '/ok/4', '/flaky', '/dead'];
    const statuses = await Promise.all(paths.map((p, i) => submit(ACME_KEY, receiver.url(p), `question ${i}`)));
    expect(statuses).toEqual([202, 202, 202, 202, 202, 202]);
    expect(await submit('bb_not_a_key_0123456789', receiver.url('/ok/x'), 'refused')).toBe(401);
    const retried = async () =>
      (await pipeline.runtime.metrics.m.results.get()).values.find((v) => v.labels.outcome === 'retried')?.value ?? 0;
    await expect.poll(retried, { timeout: 30_000 }).toBeGreaterThanOrEqual(6);
    pipeline.sim!.setFaults({ lineErrorFraction: 0 });

    await receiver.waitFor(
      (ds) =>
        ds.filter((d) => d.path.startsWith('/ok')).length >= 4 && ds.filter((d) => d.path === '/flaky').length >= 2,
      { timeoutMs: 30_000 },
    );
    await expect.poll(() => pipeline.runtime.store.deadLetters.count(), { timeout: 30_000 }).toBe(1);
    // A request with a short deadline (SPEC §10): answered by a realtime call, its deadline met.
    const urgent = await fetch(`${pipeline.url}/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ACME_KEY}`,
        'content-type': 'application/json',
        'x-deadline': '5s',
        prefer: 'wait=10',
      },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'urgent' }] }),
    });
    expect(urgent.status).toBe(200);

    const text = await (await fetch(`${pipeline.url}/metrics`)).text();
    const exposed = samples(text);
    const missing = names.filter((n) => !exposed.has(n));
    expect(missing, 'dashboard metrics without a sample line on /metrics').toEqual([]);
    // Counters and histograms must have moved (an untouched one would still print zeros); gauges may be 0.
    const unmoved = names
      .filter((n) => n.endsWith('_total') || n.endsWith('_bucket'))
      .filter((n) => !(exposed.get(n) ?? []).some((v) => v > 0));
    expect(unmoved, 'dashboard counters/histograms still at zero').toEqual([]);
    expect(exposed.get('batchbridge_webhook_dead_letters')).toEqual([1]);

    // Every catalogued metric is on the merged /metrics, and the ones this run exercised moved.
    // Failovers are between two providers: a one-provider deployment (this run) has no pair to label a series with.
    // Lane moves and budget waits need a queued request whose batch turns late, or a budget used up (deadlines.test.ts);
    // cancels to meet deadlines need ESCALATE_CANCEL_BATCHES (escalate-cancel.test.ts), a call after a stall a stalled
    // job (lane-stall.test.ts).
    const needsSeveralProviders = new Set([
      'batchbridge_provider_failovers_total',
      'batchbridge_lane_moves_total',
      'batchbridge_lane_budget_waits_total',
      'batchbridge_escalation_cancels_total',
      'batchbridge_escalated_requests_total',
      'batchbridge_lane_calls_after_stall_total',
    ]);
    for (const name of catalogueNames().filter((n) => !needsSeveralProviders.has(n))) {
      expect(seriesOf(name, exposed).length, name).toBeGreaterThan(0);
    }
    expect(text).toMatch(/batchbridge_requests_rejected_total\{reason="unauthorized"\} 1/);
    expect(text).toMatch(/batchbridge_results_total\{outcome="retried"\} [1-9]/);
    expect(text).toMatch(/batchbridge_webhook_deliveries_total\{outcome="retry"\} [1-9]/);
    expect(text).toMatch(/batchbridge_webhook_deliveries_total\{outcome="dead_letter"\} 1/);
    expect(text).toMatch(/batchbridge_estimated_savings_usd_total\{model="gpt-4o-mini"\} 0\.\d*[1-9]/);
    expect(text).toMatch(/^batchbridge_process_cpu_user_seconds_total /m);
    expect(text).toMatch(/^batchbridge_nodejs_eventloop_lag_seconds /m);
  });
});
