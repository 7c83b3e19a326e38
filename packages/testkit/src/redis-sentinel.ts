/**
 * A private Redis with Sentinel for tests (SPEC §18): one master, one replica and three Sentinels spawned on loopback
 * ports (`redis-server --sentinel` with a config file of its own, as Sentinel rewrites it). Ready once the replica's
 * link is up and every Sentinel knows the replica and the two other Sentinels. `killMaster` SIGKILLs the current
 * master; `waitForFailover` waits until the Sentinels name another; `restartNode` brings a killed node back on its port
 * and data directory (AOF) as a replica of the master the Sentinels name, and resolves once it has resynced.
 *
 * Why it does not simply start the node and let the Sentinels convert it: a Sentinel waits about 8 s (four hello
 * periods) before it turns a returning old master into a replica, and until then that node serves its own AOF as a
 * master. A second master kill in that window made the Sentinels promote it — its AOF, not the data of the master
 * that had confirmed every 202 since — and the fault run lost 202s (docs/reliability.md, "Sentinel profile").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, pingRedis, spawnRedisServer } from '@batchbridge/redis';
import { Redis } from 'ioredis';

export interface StartRedisSentinelOptions {
  /** @defaultValue `'bbmaster'` */
  masterName?: string;
  /** Sentinel `down-after-milliseconds`. @defaultValue `1_000` */
  downAfterMs?: number;
  /** Sentinel `failover-timeout`. @defaultValue `5_000` */
  failoverTimeoutMs?: number;
  /** Extra redis-server arguments of both data nodes. */
  args?: string[];
}

export interface TestRedisSentinel {
  masterName: string;
  /** `REDIS_SENTINELS` of `REDIS_MODE=sentinel`. */
  sentinelsEnv: string;
  sentinels: Array<{ host: string; port: number }>;
  /** The ports of the two data nodes (the first started as master). */
  nodePorts: number[];
  /** The port the Sentinels name as master now. */
  masterPort(): Promise<number>;
  /** SIGKILL the current master; resolves with its port. */
  killMaster(): Promise<number>;
  /** Waits until the Sentinels name a master other than `oldPort` and it answers as master. */
  waitForFailover(oldPort: number, timeoutMs?: number): Promise<number>;
  /**
   * Starts a killed data node again on its port and data directory, as a replica of the current master (as an
   * operator or a chart's start script does), and resolves once its link is up: from then on it holds what the
   * master holds, and a failover to it keeps every confirmed write.
   */
  restartNode(port: number, timeoutMs?: number): Promise<void>;
  /** SIGKILL the replica (the master then has none to confirm writes); resolves with its port. */
  killReplica(): Promise<number>;
  stop(): Promise<void>;
}

interface DataNode {
  port: number;
  dir: string;
  child: ChildProcess | undefined;
  args: string[];
}

function kill(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    child.once('exit', () => done());
    child.kill('SIGKILL');
  });
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
}

async function ask<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on('error', () => undefined);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

export async function startRedisSentinel(options: StartRedisSentinelOptions = {}): Promise<TestRedisSentinel> {
  const masterName = options.masterName ?? 'bbmaster';
  const root = mkdtempSync(join(tmpdir(), 'bb-sentinel-'));
  const nodes: DataNode[] = [];
  const sentinelChildren: ChildProcess[] = [];
  const stop = async () => {
    await Promise.all([...sentinelChildren.map(kill), ...nodes.map((n) => kill(n.child))]);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      const dir = join(root, `node${i}`);
      mkdirSync(dir);
      const args = [...(options.args ?? [])];
      if (i === 1) args.push('--replicaof', '127.0.0.1', String(nodes[0]?.port));
      nodes.push({ port, dir, child: undefined, args });
    }
    for (const node of nodes) node.child = await spawnRedisServer('redis-server', node.port, node.dir, node.args);
    const [master, replica] = nodes as [DataNode, DataNode];
    await until('replica link up', 15_000, () =>
      ask(replica.port, async (r) =>
        (await r.info('replication')).includes('master_link_status:up') ? true : undefined,
      ),
    );

    const sentinels: Array<{ host: string; port: number }> = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(root, `sentinel${i}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${root}`,
          'sentinel resolve-hostnames no',
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1_000}`,
          `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 5_000}`,
          `sentinel parallel-syncs ${masterName} 1`,
          '',
        ].join('\n'),
      );
      const child = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'ignore', 'pipe'] });
      sentinelChildren.push(child);
      await until(`sentinel on ${port}`, 10_000, async () =>
        (await pingRedis('127.0.0.1', port, 200)) ? true : undefined,
      );
      sentinels.push({ host: '127.0.0.1', port });
    }
    for (const s of sentinels) {
      await until('sentinels see each other and the replica', 30_000, () =>
        ask(s.port, async (r) => {
          const others = (await r.call('SENTINEL', 'sentinels', masterName)) as unknown[];
          const replicas = (await r.call('SENTINEL', 'replicas', masterName)) as unknown[];
          return others.length >= 2 && replicas.length >= 1 ? true : undefined;
        }),
      );
    }

    const masterPort = async () => {
      for (const s of sentinels) {
        try {
          const addr = (await ask(s.port, (r) => r.call('SENTINEL', 'get-master-addr-by-name', masterName))) as
            | string[]
            | null;
          if (addr?.[1]) return Number(addr[1]);
        } catch {
          // try the next Sentinel
        }
      }
      throw new Error('no Sentinel names a master');
    };
    const nodeAt = (port: number) => {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no data node on port ${port}`);
      return node;
    };
    return {
      masterName,
      sentinels,
      sentinelsEnv: sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      nodePorts: nodes.map((n) => n.port),
      masterPort,
      killMaster: async () => {
        const port = await masterPort();
        await kill(nodeAt(port).child);
        return port;
      },
      killReplica: async () => {
        const port = await masterPort();
        const other = nodes.find((n) => n.port !== port) as DataNode;
        await kill(other.child);
        return other.port;
      },
      waitForFailover: (oldPort, timeoutMs = 30_000) =>
        until('Sentinel failover', timeoutMs, async () => {
          const port = await masterPort();
          if (port === oldPort) return undefined;
          const role = await ask(port, async (r) => (await r.call('ROLE')) as unknown[]);
          return role[0] === 'master' ? port : undefined;
        }),
      restartNode: async (port, timeoutMs = 30_000) => {
        const node = nodeAt(port);
        await kill(node.child);
        const master = await masterPort();
        if (master === port) throw new Error(`the Sentinels still name ${port} as master: wait for the failover first`);
        node.child = await spawnRedisServer('redis-server', node.port, node.dir, [
          ...(options.args ?? []),
          '--replicaof',
          '127.0.0.1',
          String(master),
        ]);
        let info = '';
        await until(`restarted node ${port} resynced from ${master}`, timeoutMs, () =>
          ask(port, async (r) => {
            info = await r.info('replication');
            if (info.includes('master_link_status:up')) return true;
            // Seen once in a fresh-clone CI: the node answered as a master with the other node its online replica
            // (the Sentinels had settled on it). The set has converged, so stop waiting; whether an acknowledged write
            // was lost on the way is what the caller's checks decide, not this wait.
            return info.includes('role:master') && /slave\d+:[^\r\n]*state=online/.test(info) ? true : undefined;
          }),
        ).catch((err: Error) => {
          throw new Error(`${err.message}; its INFO replication: ${info.replace(/\r?\n/g, ' ')}`);
        });
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
