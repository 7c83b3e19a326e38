/**
 * The whole of batchbridge as separate processes — ingest API, packer, poller, dispatcher — with the simulator and a
 * recording receiver, for S5 and S6; and a client that submits prompts through the ingest API and notes when each
 * was accepted.
 */
import { Agent, request } from 'undici';
import { BENCH_API_KEY, chatBody } from './fixtures.js';
import type { Harness, Receiver, RunningService, Sim } from './harness.js';
import { progress } from './model.js';

export interface Pipeline {
  sim: Sim;
  receiver: Receiver;
  ingest: RunningService;
  services: RunningService[];
  prefix: string;
  stop(): Promise<void>;
}

export async function startPipeline(
  h: Harness,
  simEnv: Record<string, string>,
  env: Record<string, string>,
  options: { profile?: ReadonlyArray<'dispatcher' | 'poller' | 'packer' | 'ingest-api'> } = {},
): Promise<Pipeline> {
  await h.flush();
  const prefix = h.prefix('pipe');
  const [sim, receiver] = await Promise.all([h.startSim(simEnv), h.startReceiver(true)]);
  const common = { UPSTREAM_BASE_URL: sim.url, ...env };
  // Started side by side: on two cores, one after the other costs seconds per process.
  const services = await Promise.all(
    (['dispatcher', 'poller', 'packer', 'ingest-api'] as const).map((kind) =>
      h.startService(kind, prefix, common, { profile: options.profile?.includes(kind) ?? false }),
    ),
  );
  const ingest = services[3] as RunningService;
  return {
    sim,
    receiver,
    ingest,
    services,
    prefix,
    stop: async () => {
      for (const s of services.reverse()) await s.child.stop();
      await receiver.child.stop();
      await sim.child.stop();
    },
  };
}

/** Sends `count` prompts with `concurrency` in flight; returns the accept time (ms epoch) of each request id. */
export async function submitPrompts(
  ingestUrl: string,
  callbackUrl: string,
  count: number,
  concurrency: number,
  label: string,
): Promise<Map<string, number>> {
  const agent = new Agent({ connections: concurrency });
  const accepted = new Map<string, number>();
  let next = 0;
  let refused = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        for (;;) {
          const res = await request(`${ingestUrl}/v1/chat/completions`, {
            method: 'POST',
            dispatcher: agent,
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${BENCH_API_KEY}`,
              'x-callback-url': callbackUrl,
            },
            body: chatBody(i, 1024).json,
          });
          const text = await res.body.text();
          if (res.statusCode === 202) {
            accepted.set((JSON.parse(text) as { id: string }).id, Date.now());
            break;
          }
          refused += 1;
          if (refused > 100) throw new Error(`ingest refused ${refused} prompts; last: ${res.statusCode} ${text}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        if (accepted.size % 5_000 === 0) progress(label, `accepted ${accepted.size}/${count}`);
      }
    }),
  );
  await agent.close();
  return accepted;
}
