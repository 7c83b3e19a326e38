/**
 * S7 baseline: a bare `node:http` server that holds every POST carrying `Prefer` unanswered — N idle keep-alive
 * connections with one request each — until `POST /release`, which answers them all at once (a small JSON body, as a
 * completion would be) and returns the release time. `GET /held` counts the held requests. Other POSTs are answered at
 * once (warm-up). No Redis, no auth, no parsing. Child process of the benchmark.
 */
import { createServer, type ServerResponse } from 'node:http';

const held: Array<{ id: string; res: ServerResponse }> = [];
let n = 0;
const answer = JSON.stringify({
  id: 'chatcmpl-baseline',
  object: 'chat.completion',
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'x'.repeat(200) }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 250, completion_tokens: 50, total_tokens: 300 },
});

function json(res: ServerResponse, status: number, value: unknown, id = ''): void {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...(id ? { 'x-request-id': id } : {}),
  });
  res.end(text);
}

const server = createServer((req, res) => {
  if (req.url === '/held') return json(res, 200, { held: held.length });
  if (req.url === '/release') {
    const releasedAt = Date.now();
    for (const h of held.splice(0)) {
      h.res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(answer)),
        'x-request-id': h.id,
      });
      h.res.end(answer);
    }
    return json(res, 200, { releasedAt });
  }
  if (req.method !== 'POST') return json(res, 404, {});
  req.on('data', () => undefined);
  req.on('end', () => {
    n += 1;
    const id = `base_${n}`;
    if (req.headers.prefer) held.push({ id, res });
    else json(res, 202, { id, status: 'queued' }, id);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  process.exit(0);
});
