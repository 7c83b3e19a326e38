// Issue 10: the Kubernetes manifests in infra/k8s validate without a cluster. Every document is checked against the
// Kubernetes OpenAPI schema of its apiVersion/kind (kubernetes-models ships them compiled, Kubernetes 1.27), then
// against the policies batchbridge relies on: probes, resources, a locked-down security context, a PDB and an HPA per
// Deployment, only environment names batchbridge reads, and commands that point at real service entry points.
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { CONFIG_ENV_NAMES, parseConfig, parseTenants } from '@batchbridge/config';
import { SERVICE_NODE_FLAGS } from '@batchbridge/runtime';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { bundlePath, ENTRIES } from '../../infra/build/bundle.mjs';

const root = resolve(import.meta.dirname, '..', '..');
const k8sDir = join(root, 'infra', 'k8s');

/** The schema validator of every kind the manifests may use; a kind missing here fails the test. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked field by field below
type Manifest = Record<string, any>;
interface Doc {
  file: string;
  manifest: Manifest;
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

function load(file: string): Manifest[] {
  const docs = parseAllDocuments(readFileSync(file, 'utf8'), { prettyErrors: true });
  return docs.map((d) => {
    expect(d.errors, `${relative(root, file)}: ${d.errors.join('; ')}`).toEqual([]);
    expect(d.warnings, `${relative(root, file)}: ${d.warnings.join('; ')}`).toEqual([]);
    return d.toJS() as Manifest;
  });
}

const allDocs: Doc[] = yamlFiles(k8sDir).flatMap((file) => load(file).map((manifest) => ({ file, manifest })));
const kustomizations = allDocs.filter((d) => d.manifest.kind === 'Kustomization');
const resources = allDocs.filter((d) => d.manifest.kind !== 'Kustomization');

function validationError(m: Manifest): string | undefined {
  const Model = MODELS[`${m.apiVersion}/${m.kind}`];
  if (!Model) return `no schema for ${m.apiVersion}/${m.kind}: add it to MODELS`;
  try {
    new Model(m as never).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The manifests of one kustomization directory (its own files, not those of bases it includes). */
function inDir(dir: string, kind?: string): Manifest[] {
  return resources
    .filter((d) => dirname(d.file) === dir && (kind === undefined || d.manifest.kind === kind))
    .map((d) => d.manifest);
}

const base = join(k8sDir, 'base');
const dev = join(k8sDir, 'overlays', 'dev');
const SERVICES = { 'ingest-api': 8080, packer: 9101, poller: 9102, dispatcher: 9103 } as const;

const configMap = inDir(base, 'ConfigMap').find((m) => m.metadata.name === 'batchbridge-config')!;
const secret = inDir(base, 'Secret').find((m) => m.metadata.name === 'batchbridge-secrets')!;
const secretKeys = new Set(Object.keys(secret?.stringData ?? {}));
const deployments = inDir(base, 'Deployment');

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function containerPort(container: Manifest, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return (container.ports as Manifest[] | undefined)?.find((p) => p.name === port)?.containerPort;
}

describe('infra/k8s manifests: Kubernetes schemas', () => {
  it('parses every YAML document of infra/k8s', () => {
    expect(resources.length).toBeGreaterThan(10);
    expect(kustomizations.map((k) => relative(k8sDir, k.file)).sort()).toEqual([
      'base/kustomization.yaml',
      'overlays/dev/kustomization.yaml',
      'overlays/sentinel/kustomization.yaml',
    ]);
  });

  it.each(resources.map((d) => [`${relative(k8sDir, d.file)} ${d.manifest.kind}/${d.manifest.metadata?.name}`, d]))(
    '%s validates against its schema',
    (_name, doc) => {
      expect(validationError((doc as Doc).manifest)).toBeUndefined();
    },
  );

  it('rejects a broken manifest (the validator is not a no-op)', () => {
    const d = structuredClone(deployments[0]!);
    d.spec.replicas = 'two';
    delete d.spec.selector;
    expect(validationError(d)).toMatch(/selector|replicas/);
    expect(validationError({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } })).toMatch(
      /no schema/,
    );
  });

  it('lists every manifest file in its kustomization, and only existing ones', () => {
    for (const k of kustomizations) {
      const dir = dirname(k.file);
      const listed = [
        ...(k.manifest.resources as string[]),
        ...((k.manifest.patches ?? []) as Manifest[]).map((p) => p.path),
      ];
      for (const entry of listed) expect(existsSync(join(dir, entry)), `${relative(root, dir)}: ${entry}`).toBe(true);
      const own = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
      expect(own.filter((f) => !listed.includes(f))).toEqual([]);
    }
  });
});

describe('infra/k8s manifests: batchbridge policies', () => {
  it('has one Deployment per service, each running the bundle `pnpm build` makes of its services/<name>/src/main.ts', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(Object.keys(SERVICES).sort());
    const all = resources.filter((d) => ['Deployment', 'StatefulSet'].includes(d.manifest.kind));
    const bundles = ENTRIES.map((e) => bundlePath(e.service, e.entry));
    for (const { manifest: d } of all) {
      for (const c of d.spec.template.spec.containers as Manifest[]) {
        if (c.image !== 'batchbridge') continue;
        // args, not command: the image's ENTRYPOINT (`node`) stays.
        expect(c.command).toBeUndefined();
        // The service's node flags (SERVICE_NODE_FLAGS), then its bundle.
        const flags = SERVICE_NODE_FLAGS[d.metadata.name] ?? [];
        expect(c.args).toHaveLength(flags.length + 1);
        expect(c.args.slice(0, flags.length)).toEqual(flags);
        const bundle = c.args[flags.length];
        expect(bundle).toBe(`services/${d.metadata.name}/dist/main.mjs`);
        expect(bundles, bundle).toContain(bundle);
        const source = `services/${d.metadata.name}/src/main.ts`;
        expect(existsSync(join(root, source)), source).toBe(true);
      }
    }
  });

  describe.each(Object.entries(SERVICES))('%s', (name, port) => {
    const d = deployments.find((m) => m.metadata.name === name)!;
    const pod = d?.spec.template.spec as Manifest;
    const c = pod?.containers[0] as Manifest;
    const podLabels = d?.spec.template.metadata.labels as Record<string, string>;

    it('probes /healthz (liveness, startup) and /readyz (readiness) on its own port', () => {
      expect(pod.containers).toHaveLength(1);
      expect(c.livenessProbe.httpGet.path).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path).toBe('/readyz');
      expect(c.startupProbe.httpGet.path).toBe('/healthz');
      for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) {
        expect(containerPort(c, probe.httpGet.port)).toBe(port);
      }
      // The process listens where the probes look: PORT for the API, METRICS_PORT for workers.
      const env = Object.fromEntries((c.env as Manifest[]).map((e) => [e.name, e.value]));
      const listens = name === 'ingest-api' ? configMap.data.PORT : env.METRICS_PORT;
      expect(Number(listens)).toBe(port);
      expect(configMap.data.HOST).toBe('0.0.0.0');
    });

    it('requests and limits CPU and memory', () => {
      for (const kind of ['requests', 'limits']) {
        expect(c.resources[kind].cpu, kind).toBeDefined();
        expect(c.resources[kind].memory, kind).toBeDefined();
      }
    });

    it('runs as uid 1000, non-root, read-only, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
      expect(pod.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 1000,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(c.securityContext.privileged).not.toBe(true);
      expect(pod.automountServiceAccountToken).toBe(false);
      // A writable /tmp (packer JSONL files, tsx cache) on an emptyDir.
      const tmp = (c.volumeMounts as Manifest[]).find((m) => m.mountPath === '/tmp');
      expect(pod.volumes.find((v: Manifest) => v.name === tmp?.name)?.emptyDir).toBeDefined();
    });

    it('mounts the tenants file from the Secret where TENANTS_FILE points', () => {
      const mount = (c.volumeMounts as Manifest[]).find((m) => m.name === 'tenants')!;
      const volume = pod.volumes.find((v: Manifest) => v.name === 'tenants');
      expect(volume.secret.secretName).toBe(secret.metadata.name);
      expect(mount.readOnly).toBe(true);
      const item = volume.secret.items[0];
      expect(secretKeys.has(item.key)).toBe(true);
      expect(`${mount.mountPath}/${item.path}`).toBe(configMap.data.TENANTS_FILE);
    });

    it('reads only environment names batchbridge knows, from the ConfigMap and Secret that exist', () => {
      expect(c.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }]);
      for (const e of c.env as Manifest[]) {
        // NODE_OPTIONS is Node's own (heap size), not batchbridge's.
        if (e.name !== 'NODE_OPTIONS') expect(CONFIG_ENV_NAMES, e.name).toContain(e.name);
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) {
          expect(ref.name).toBe(secret.metadata.name);
          expect(secretKeys.has(ref.key), ref.key).toBe(true);
        }
      }
    });

    it('has a PodDisruptionBudget and a HorizontalPodAutoscaler on CPU, and a Service on its port', () => {
      const pdbs = inDir(base, 'PodDisruptionBudget').filter((p) => matches(p.spec.selector.matchLabels, podLabels));
      expect(pdbs).toHaveLength(1);
      // The PDB selects this Deployment's pods only.
      for (const other of deployments.filter((o) => o !== d)) {
        expect(matches(pdbs[0]!.spec.selector.matchLabels, other.spec.template.metadata.labels)).toBe(false);
      }
      expect(pdbs[0]!.spec.maxUnavailable ?? pdbs[0]!.spec.minAvailable).toBeDefined();

      const hpas = inDir(base, 'HorizontalPodAutoscaler').filter(
        (h) => h.spec.scaleTargetRef.kind === 'Deployment' && h.spec.scaleTargetRef.name === name,
      );
      expect(hpas).toHaveLength(1);
      const hpa = hpas[0]!;
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      expect(hpa.spec.metrics).toContainEqual(
        expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
      );
      // The HPA owns the replica count.
      expect(d.spec.replicas).toBeUndefined();

      const services = inDir(base, 'Service').filter((s) => matches(s.spec.selector, podLabels));
      expect(services).toHaveLength(1);
      const sp = services[0]!.spec.ports[0];
      expect(sp.port).toBe(port);
      expect(containerPort(c, sp.targetPort)).toBe(port);
      expect(matches(d.spec.selector.matchLabels, podLabels)).toBe(true);
    });
  });

  it('holds only environment names batchbridge reads, with values batchbridge accepts', () => {
    const secretEnv = Object.fromEntries(
      [...secretKeys].filter((k) => CONFIG_ENV_NAMES.includes(k)).map((k) => [k, secret.stringData[k]]),
    );
    const devPatch = inDir(dev, 'ConfigMap')[0]!;
    // The config step reads TENANTS_FILE: give it the manifests' own tenants.json at a local path.
    const tenantsFile = join(mkdtempSync(join(tmpdir(), 'bb-k8s-')), 'tenants.json');
    writeFileSync(tenantsFile, secret.stringData['tenants.json']);
    for (const data of [configMap.data, { ...configMap.data, ...devPatch.data }]) {
      for (const name of Object.keys(data)) expect(CONFIG_ENV_NAMES, name).toContain(name);
      const parsed = parseConfig({ ...data, ...secretEnv, TENANTS_FILE: tenantsFile });
      expect(parsed.ok ? '' : parsed.message).toBe('');
    }
    expect(devPatch.metadata.name).toBe(configMap.metadata.name);
    const parsed = parseConfig({ ...configMap.data, ...secretEnv, TENANTS_FILE: tenantsFile });
    expect(parsed.ok && parsed.config.redis).toMatchObject({ mode: 'cluster', partitions: 16 });
    expect(parseTenants(secret.stringData['tenants.json'])).toHaveLength(1);
  });
});

// Issue 14.7: the Prometheus Operator ServiceMonitor beside the manifests. It needs the operator's CRDs, so it lives in
// infra/prometheus-operator (outside every kustomization, which must apply on a bare cluster).
describe('infra/prometheus-operator ServiceMonitor', () => {
  const monitorFile = join(root, 'infra', 'prometheus-operator', 'servicemonitor.yaml');
  const monitors = load(monitorFile).filter((m) => m.kind === 'ServiceMonitor');
  const monitor = monitors[0]!;
  /** Every Service of the base and the dev overlay: what a `kubectl apply -k` of either puts in the namespace. */
  const allServices = resources.filter((d) => d.manifest.kind === 'Service').map((d) => d.manifest);
  const selectedBy = (selector: Record<string, string>) =>
    allServices.filter((s) => matches(selector, s.metadata.labels));

  it('parses as one monitoring.coreos.com/v1 ServiceMonitor in the services namespace', () => {
    expect(monitors).toHaveLength(1);
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(monitor.metadata.namespace).toBe(secret.metadata.namespace);
    expect(monitor.spec.namespaceSelector.matchNames).toEqual([secret.metadata.namespace]);
    expect(allDocs.filter((d) => d.manifest.kind === 'ServiceMonitor')).toEqual([]);
  });

  it("selects by label exactly the four services' metrics Services, not the dev overlay's simulator or Redis", () => {
    const selected = selectedBy(monitor.spec.selector.matchLabels);
    const components = selected.map((s) => s.metadata.labels['app.kubernetes.io/component']).sort();
    expect(components).toEqual(Object.keys(SERVICES).sort());
    // Selecting on the name label alone would also scrape provider-sim (dev overlay, port `http`): the test sees it.
    const nameOnly = selectedBy({
      'app.kubernetes.io/name': monitor.spec.selector.matchLabels['app.kubernetes.io/name'],
    });
    expect(nameOnly.map((s) => s.metadata.name)).toContain('provider-sim');
  });

  it('scrapes a port name each selected Service has, on the port its process serves /metrics on', () => {
    const endpoints = monitor.spec.endpoints as Manifest[];
    const selected = selectedBy(monitor.spec.selector.matchLabels);
    for (const s of selected) {
      const component = s.metadata.labels['app.kubernetes.io/component'] as keyof typeof SERVICES;
      const named = (s.spec.ports as Manifest[]).filter((p) => endpoints.some((e) => e.port === p.name));
      expect(
        named.map((p) => p.port),
        s.metadata.name,
      ).toEqual([SERVICES[component]]);
    }
    for (const e of endpoints) {
      expect(
        selected.some((s) => (s.spec.ports as Manifest[]).some((p) => p.name === e.port)),
        e.port,
      ).toBe(true);
      expect(e.path).toBe('/metrics');
    }
    expect(readFileSync(join(root, 'packages', 'runtime', 'src', 'health-server.ts'), 'utf8')).toContain("'/metrics'");
  });

  it('sends METRICS_TOKEN as bearer from the Secret key the services read it from', () => {
    for (const e of monitor.spec.endpoints as Manifest[]) {
      const ref = e.authorization?.credentials ?? e.bearerTokenSecret;
      expect(e.authorization?.type ?? 'Bearer').toBe('Bearer');
      expect(ref).toEqual({ name: secret.metadata.name, key: 'METRICS_TOKEN' });
      expect(secretKeys.has(ref.key)).toBe(true);
      for (const d of deployments) {
        const env = (d.spec.template.spec.containers[0].env as Manifest[]).find((v) => v.name === 'METRICS_TOKEN');
        expect(env?.valueFrom?.secretKeyRef, d.metadata.name).toEqual(ref);
      }
    }
  });
});
