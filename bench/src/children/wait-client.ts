/**
 * S7 client: opens `WC_COUNT` concurrent POSTs to `WC_URL`, each on its own keep-alive connection, and holds them all
 * until each is answered; notes when each answer had fully arrived (ms epoch) with its `X-Request-ID` and status, and
 * writes them to `WC_OUT` as JSON before exiting. New requests are started at most `WC_OPENING` at a time (until the
 * request is written), so that the server's accept queue is not flooded. Child process of the benchmark.
 */
import { writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { chatBody } from '../fixtures.js';

const url = new URL(process.env.WC_URL ?? 'http://127.0.0.1:9/');
const count = Number(process.env.WC_COUNT ?? 100);
const opening = Number(process.env.WC_OPENING ?? 200);
const headers = JSON.parse(process.env.WC_HEADERS ?? '{}') as Record<string, string>;
const out = process.env.WC_OUT ?? '/dev/null';
const timeoutMs = Number(process.env.WC_TIMEOUT_MS ?? 600_000);

// One socket per request: no pooling limit, each connection idle-kept after its answer.
const agent = new Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
const answers: Array<[id: string, status: number, at: number]> = [];
let errors = 0;
let firstError = '';
let written = 0;
let done = 0;
let started = 0;
let inOpening = 0;
let finish: () => void = () => undefined;
const finished = new Promise<void>((resolve) => {
  finish = resolve;
});

function settled(): void {
  done += 1;
  if (done === count) finish();
}

function startOne(i: number): void {
  inOpening += 1;
  const body = chatBody(i, 1024).json;
  const req = request(url, {
    method: 'POST',
    agent,
    headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
  });
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    inOpening -= 1;
    pump();
  };
  req.on('finish', () => {
    written += 1;
    release();
  });
  req.on('response', (res) => {
    res.on('data', () => undefined);
    res.on('end', () => {
      answers.push([String(res.headers['x-request-id'] ?? ''), res.statusCode ?? 0, Date.now()]);
      settled();
    });
  });
  req.on('error', (err) => {
    errors += 1;
    firstError ||= err.message;
    release();
    settled();
  });
  req.end(body);
}

function pump(): void {
  while (started < count && inOpening < opening) startOne(started++);
}

const progress = setInterval(() => {
  process.stderr.write(`wait-client: written ${written}/${count}, answered ${answers.length}, errors ${errors}\n`);
}, 5_000);
const deadline = setTimeout(finish, timeoutMs);
pump();
await finished;
clearInterval(progress);
clearTimeout(deadline);
writeFileSync(out, JSON.stringify({ written, errors, firstError, answers }));
agent.destroy();
process.exit(0);
