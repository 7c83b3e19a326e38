/**
 * A private Redis Cluster for tests (issue 10): N masters spawned as `redis-server --cluster-enabled yes` on loopback
 * ports, joined with `redis-cli --cluster create … --cluster-replicas 0`, ready once every node says
 * `cluster_state:ok`. Each node runs with AOF and noeviction, as batchbridge requires in production.
 */
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnRedisServer } from '@batchbridge/redis';
import { Redis } from 'ioredis';

const run = promisify(execFile);

/** A cluster node's bus port is its port + 10 000 (Redis' default `cluster-port`). */
const BUS_OFFSET = 10_000;

export interface StartRedisClusterOptions {
  /** How many masters (16 384 slots split evenly). Redis needs at least 3. @defaultValue `3` */
  masters?: number;
  /** `requirepass` (and `masterauth`) of every node; the URL then carries it. @defaultValue none */
  password?: string;
  /** How long to wait for `cluster_state:ok` on every node. @defaultValue `30_000` */
  readyTimeoutMs?: number;
}

export interface TestRedisCluster {
  /** Comma-separated seed nodes, the `REDIS_URL` of `REDIS_MODE=cluster`. */
  url: string;
  /** The masters' client ports (bus ports are these + 10 000). */
  ports: number[];
  /** Kills every node and removes their data directories. Idempotent. */
  stop(): Promise<void>;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/**
 * Free client ports whose bus port is free too. The kernel's ephemeral range (32768–60999) would put most bus ports
 * above 65535, so pick from 20000–30999 instead; a clash with another test is still possible, so callers retry.
 */
async function clusterPorts(count: number, taken: Set<number>): Promise<number[]> {
  const out: number[] = [];
  for (let tries = 0; out.length < count && tries < 1_000; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 11_000);
    if (taken.has(port) || taken.has(port + BUS_OFFSET) || out.includes(port) || out.includes(port + BUS_OFFSET)) {
      continue;
    }
    if ((await portIsFree(port)) && (await portIsFree(port + BUS_OFFSET))) out.push(port);
  }
  if (out.length < count) throw new Error('no free port pairs (P, P+10000) on 127.0.0.1');
  return out;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

async function clusterStateOk(port: number, password: string | undefined): Promise<boolean> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    ...(password ? { password } : {}),
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const info = String(await client.call('CLUSTER', 'INFO'));
    return /cluster_state:ok/.test(info);
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<TestRedisCluster> {
  const masters = options.masters ?? 3;
  if (masters < 3) throw new Error('a Redis Cluster needs at least 3 masters');
  const root = mkdtempSync(join(tmpdir(), 'bb-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await Promise.all(children.map(stopChild));
      rmSync(root, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    const taken = new Set<number>();
    while (ports.length < masters) {
      const [port] = await clusterPorts(1, taken);
      if (port === undefined) break;
      taken.add(port);
      const dir = join(root, String(port));
      mkdirSync(dir);
      try {
        children.push(
          await spawnRedisServer('redis-server', port, dir, [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, 'nodes.conf'),
            // Short enough that a test which kills a node sees the failure soon; long enough for a busy 2-core box.
            '--cluster-node-timeout',
            '5000',
            ...(options.password ? ['--requirepass', options.password, '--masterauth', options.password] : []),
          ]),
        );
        ports.push(port);
      } catch {
        // Someone took the port (or its bus port) between the check and the bind: try another pair.
        rmSync(dir, { recursive: true, force: true });
      }
    }
    await run(
      'redis-cli',
      [
        ...(options.password ? ['-a', options.password, '--no-auth-warning'] : []),
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
    const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
    for (;;) {
      const states = await Promise.all(ports.map((p) => clusterStateOk(p, options.password)));
      if (states.every(Boolean)) break;
      if (Date.now() > deadline) throw new Error(`Redis Cluster on ports ${ports.join(',')} did not reach state ok`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: ports.map((p) => `redis://${auth}127.0.0.1:${p}`).join(','),
    ports,
    stop,
  };
}
