// The dashboard counts once and imports anywhere (issue 14.7): every process exports the cluster-wide gauges, so a
// query over them takes `max`, never `sum` (4× in compose, 8× in Kubernetes otherwise); every query is filtered by the
// `job` variable and every panel reads the `datasource` variable. The ServiceMonitor scrapes the ports and path the
// Services and processes really serve, with the METRICS_TOKEN from the services' own Secret.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');
/** Grafana's variable reference, `$` + `{datasource}` (a plain literal would read as a mistyped template). */
const DS_UID = ['$', '{datasource}'].join('');
const CLUSTER_GAUGES = ['batchbridge_queue_jobs', 'batchbridge_requests', 'batchbridge_webhook_dead_letters'];

interface Target {
  expr: string;
  datasource?: { uid?: string };
}
interface Panel {
  title: string;
  datasource?: { uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
const dashboard = JSON.parse(read('infra/grafana/dashboards/batchbridge.json')) as {
  panels: Panel[];
  templating?: {
    list: {
      name: string;
      type: string;
      query?: unknown;
      multi?: boolean;
      includeAll?: boolean;
      datasource?: { uid?: string };
    }[];
  };
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]).filter((p) => p.targets);
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** The aggregation operator applied directly around a selector of `metric` in `expr`, or 'none'. */
export function aggregationsOver(expr: string, metric: string): string[] {
  const out: string[] = [];
  for (const m of expr.matchAll(new RegExp(`\\b${metric}(?![a-z0-9_])`, 'g'))) {
    const before = expr.slice(0, m.index).trimEnd();
    const agg = /\b(sum|max|min|avg|count)\s*(?:(?:by|without)\s*\([^)]*\))?\s*\(\s*$/.exec(before);
    out.push(agg?.[1] ?? 'none');
  }
  return out;
}

describe('Grafana dashboard', () => {
  it('the aggregation reader sees sum and max, with and without by()', () => {
    expect(aggregationsOver('sum by (state) (batchbridge_requests{job=~"$job"})', 'batchbridge_requests')).toEqual([
      'sum',
    ]);
    expect(aggregationsOver('max(batchbridge_queue_jobs)', 'batchbridge_queue_jobs')).toEqual(['max']);
    expect(aggregationsOver('sum(rate(batchbridge_requests_accepted_total[5m]))', 'batchbridge_requests')).toEqual([]);
  });

  it('aggregates every cluster-wide gauge with max, never sum', () => {
    for (const gauge of CLUSTER_GAUGES) {
      const uses = exprs.flatMap((e) => aggregationsOver(e, gauge));
      expect(uses.length, gauge).toBeGreaterThan(0);
      expect(new Set(uses), gauge).toEqual(new Set(['max']));
    }
  });

  it('filters every metric selector by the job variable', () => {
    const unfiltered: string[] = [];
    for (const e of exprs) {
      for (const m of e.matchAll(/\bbatchbridge_[a-z0-9_]+(\{[^}]*\})?/g)) {
        if (!m[1]?.includes('job=~"$job"')) unfiltered.push(`${m[0]} in ${e}`);
      }
    }
    expect(exprs.length).toBeGreaterThan(10);
    expect(unfiltered).toEqual([]);
  });

  it('reads the datasource variable in every panel and query, and defines datasource and job variables', () => {
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe(DS_UID);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(DS_UID);
    }
    const vars = dashboard.templating?.list ?? [];
    const ds = vars.find((v) => v.name === 'datasource');
    expect(ds?.type).toBe('datasource');
    expect(ds?.query).toBe('prometheus');
    const job = vars.find((v) => v.name === 'job');
    expect(job?.type).toBe('query');
    expect(job?.datasource?.uid).toBe(DS_UID);
    // Offered jobs come from a gauge every process exports, so a job made of packers or pollers alone is listed too
    // (`batchbridge_requests_accepted_total` only exists where ingest-api runs).
    expect((job?.query as { query?: string } | undefined)?.query).toBe('label_values(batchbridge_requests, job)');
    expect(job).toMatchObject({ multi: true, includeAll: true });
    // No datasource uid of the compose setup is left anywhere: the file imports into any Grafana.
    expect(read('infra/grafana/dashboards/batchbridge.json')).not.toMatch(/"uid":\s*"prometheus"/);
  });
});

describe('Prometheus Operator ServiceMonitor', () => {
  const monitor = parse(read('infra/prometheus-operator/servicemonitor.yaml')) as {
    apiVersion: string;
    kind: string;
    metadata: { namespace: string };
    spec: {
      selector: { matchLabels: Record<string, string> };
      namespaceSelector: { matchNames: string[] };
      endpoints: {
        port: string;
        path: string;
        authorization: { type: string; credentials: { name: string; key: string } };
      }[];
    };
  };
  const base = join(ROOT, 'infra/k8s/base');
  const manifests = readdirSync(base)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(base, f), 'utf8')).map((d) => d.toJS()))
    .filter(Boolean) as {
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    // biome-ignore lint/suspicious/noExplicitAny: plain parsed YAML of several kinds, read field by field below.
    spec: any;
    stringData?: Record<string, string>;
  }[];
  const services = manifests.filter((m) => m.kind === 'Service');
  const selected = services.filter((s) =>
    Object.entries(monitor.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels?.[k] === v),
  );

  it('is a monitoring.coreos.com/v1 ServiceMonitor in the services namespace', () => {
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.kind).toBe('ServiceMonitor');
    expect(monitor.metadata.namespace).toBe('batchbridge');
    expect(monitor.spec.namespaceSelector.matchNames).toEqual(['batchbridge']);
  });

  it('selects every metrics-serving Service and each of them exposes a port an endpoint names', () => {
    const names = selected.map((s) => s.metadata.name).sort();
    expect(names).toEqual(['dispatcher-metrics', 'ingest-api', 'packer-metrics', 'poller-metrics']);
    const endpointPorts = new Set(monitor.spec.endpoints.map((e) => e.port));
    for (const s of selected) {
      const ports = (s.spec.ports as { name: string }[]).map((p) => p.name);
      expect(
        ports.some((p) => endpointPorts.has(p)),
        s.metadata.name,
      ).toBe(true);
    }
    // No endpoint names a port no Service has.
    const allPorts = new Set(selected.flatMap((s) => (s.spec.ports as { name: string }[]).map((p) => p.name)));
    for (const p of endpointPorts) expect(allPorts.has(p), p).toBe(true);
  });

  it('scrapes the path the processes serve, with the METRICS_TOKEN from the services’ Secret as bearer', () => {
    const served = [read('packages/runtime/src/health-server.ts'), read('services/ingest-api/src/app.ts')];
    const secret = manifests.find((m) => m.kind === 'Secret');
    const deployments = manifests.filter((m) => m.kind === 'Deployment');
    for (const e of monitor.spec.endpoints) {
      for (const src of served) expect(src).toContain(`'${e.path}'`);
      expect(e.authorization.type).toBe('Bearer');
      expect(e.authorization.credentials.name).toBe(secret?.metadata.name);
      expect(Object.keys(secret?.stringData ?? {})).toContain(e.authorization.credentials.key);
      // The very Secret key each service reads its METRICS_TOKEN from.
      for (const d of deployments) {
        const env = d.spec.template.spec.containers[0].env as {
          name: string;
          valueFrom?: { secretKeyRef?: { name: string; key: string } };
        }[];
        expect(env.find((v) => v.name === 'METRICS_TOKEN')?.valueFrom?.secretKeyRef, d.metadata.name).toEqual(
          e.authorization.credentials,
        );
      }
    }
  });
});
