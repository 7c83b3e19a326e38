/**
 * Node flags a service's process is started with: by `bench` (bench/src/procs.ts), by its k8s manifest
 * (infra/k8s/base/<service>.yaml `args`) and by its package's `start` scripts; node-flags.test.ts keeps those in step
 * with this list. They are V8 heap sizes, which V8 reads only when the heap is set up: `v8.setFlagsFromString` at start-up
 * does not change them (measured on Node 20: the new space stayed at 32 MB), unlike `--heap-growing-percent`
 * (run-main.ts).
 *
 * ingest-api: a young generation of 2 × 32 MB instead of V8's 2 × 16 MB. Each scavenge keeps (promotes) what the
 * requests in flight hold, about 2.2 MB under S1's load whatever the young generation's size; with twice the room,
 * scavenges come half as often, so per request about half as much is copied and promoted into the old generation, where
 * it dies and waits for a mark-compact (docs/benchmarks.md, S1).
 */
export const SERVICE_NODE_FLAGS: Readonly<Record<string, readonly string[]>> = {
  'ingest-api': ['--max-semi-space-size=32'],
};

/** The flags of {@link SERVICE_NODE_FLAGS} this process was started without (command line or NODE_OPTIONS). */
export function missingNodeFlags(service: string, execArgv: readonly string[], nodeOptions = ''): string[] {
  const given = new Set([...execArgv, ...nodeOptions.split(/\s+/)].map((f) => f.replaceAll('_', '-')));
  return (SERVICE_NODE_FLAGS[service] ?? []).filter((f) => !given.has(f));
}
