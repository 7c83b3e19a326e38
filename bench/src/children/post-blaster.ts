/**
 * S4 baseline: `BLAST_COUNT` unsigned JSON POSTs of `BLAST_BYTES` bytes to `BLAST_URL` with `BLAST_CONCURRENCY` in
 * flight over one undici pool — what delivering webhooks costs with no queue, no signing, no address policy.
 * Prints `{"ms":…,"ok":…}` and exits. Child process of the benchmark.
 */
import { Agent, request } from 'undici';

const url = process.env.BLAST_URL ?? '';
const count = Number(process.env.BLAST_COUNT ?? 1000);
const concurrency = Number(process.env.BLAST_CONCURRENCY ?? 64);
const body = JSON.stringify({
  type: 'request.completed',
  pad: 'x'.repeat(Math.max(0, Number(process.env.BLAST_BYTES ?? 1000) - 40)),
});
const agent = new Agent({ connections: concurrency });

let next = 0;
let ok = 0;
const started = Date.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      next += 1;
      const res = await request(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        dispatcher: agent,
      });
      await res.body.dump();
      if (res.statusCode === 200) ok += 1;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ ms: Date.now() - started, ok })}\n`);
await agent.close();
process.exit(0);
