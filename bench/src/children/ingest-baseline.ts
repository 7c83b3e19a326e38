/**
 * S1 baseline: the least an HTTP intake over Redis can do — bare `node:http`, read the body, one `RPUSH` of it, answer
 * 202. No auth, no validation, no idempotency, no quota. Child process of the benchmark.
 */
import { createServer } from 'node:http';
import { Redis } from 'ioredis';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const key = `${process.env.BASELINE_KEY ?? 'baseline'}:queue`;
let n = 0;

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(200);
    res.end('ok');
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    n += 1;
    const id = `base_${n}`;
    redis.rpush(key, Buffer.concat(chunks)).then(
      () => {
        res.writeHead(202, { 'content-type': 'application/json' });
        res.end(`{"id":"${id}","status":"queued"}`);
      },
      () => {
        res.writeHead(503);
        res.end();
      },
    );
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  redis.disconnect();
  process.exit(0);
});
