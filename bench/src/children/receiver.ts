/**
 * The fast local webhook receiver of S4–S6: a bare `node:http` server that answers 200 to every POST at once. In
 * record mode it keeps the arrival time of each delivery by request id (from the Standard Webhooks `webhook-id`,
 * `msg_<request id>`), so that the benchmark can compute per-request latency. Child process of the benchmark.
 */
import { createServer } from 'node:http';

const record = process.env.RECEIVER_RECORD === '1';
let count = 0;
let firstAt = 0;
let lastAt = 0;
let bytes = 0;
let arrivals = new Map<string, number>();

function json(res: import('node:http').ServerResponse, value: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const server = createServer((req, res) => {
  if (req.url === '/stats') return json(res, { count, firstAt, lastAt, bytes });
  if (req.url === '/arrivals') return json(res, Object.fromEntries(arrivals));
  if (req.url === '/reset') {
    count = 0;
    firstAt = 0;
    lastAt = 0;
    bytes = 0;
    arrivals = new Map();
    return json(res, { ok: true });
  }
  if (req.method !== 'POST') {
    res.writeHead(404);
    res.end();
    return;
  }
  req.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    const now = Date.now();
    if (count === 0) firstAt = now;
    lastAt = now;
    count += 1;
    if (record) {
      const id = String(req.headers['webhook-id'] ?? '').replace(/^msg_/, '');
      if (id && !arrivals.has(id)) arrivals.set(id, now);
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.RECEIVER_PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
