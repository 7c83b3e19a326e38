/** The shape every scenario hands back to the report, and the run plan (full or quick). */

export type ScenarioId = 'S1' | 'S2' | 'S3' | 'S4' | 'S5' | 'S6' | 'S7' | 'S8' | 'S10' | 'S11' | 'S12';

/** One line of the stdout table and of the report's summary table. */
export interface Row {
  metric: string;
  value: string;
  baseline?: string;
  ratio?: string;
  target?: string;
  /** undefined when the figure has no target. */
  met?: boolean | undefined;
}

export interface Chart {
  /** File name under the output directory, e.g. `bench-s1-latency.svg`. */
  file: string;
  svg: string;
  alt: string;
}

export interface ScenarioResult {
  id: ScenarioId;
  title: string;
  rows: Row[];
  /** Figures for benchmarks.json; units in the key names. */
  json: Record<string, unknown>;
  /** Set-up and reading notes for benchmarks.md (markdown). */
  notes: string[];
  charts: Chart[];
}

export interface Plan {
  mode: 'full' | 'quick';
  reps: number;
  s1: { warmupS: number; closedS: number; openS: number; rates: number[]; connections: number; bodyBytes: number };
  /** `embeddings`: also pack `count` embeddings requests (one 1 000-character input each) into one batch. */
  s2: { count: number; bodyBytes: number; bigBodyBytes: number | undefined; embeddings: boolean };
  /** `embeddingInputs`: the embeddings variant's batch (one input per request, 1 536-dimension float vectors). */
  s3: {
    lines: number;
    bigLines: number | undefined;
    embeddingInputs: number | undefined;
    /** S3 routing only (`--s3-route-only`): no S4 deliveries, no large chat file. */
    routeOnly?: boolean;
  };
  s4: { concurrency: number };
  s5: { count: number; clientConcurrency: number };
  s6: { directS: number; prompts: number; reps: number };
  /** Concurrent waiting connections held by one ingest process (transparent mode). */
  s7: { connections: number };
  /** Prompts with deadlines (SPEC §10) against slow batches. */
  s8: { count: number };
  /** Redis memory (issue 26): requests taken to finished and delivered; queued-request steps of the memory curve. */
  s10: { finished: number; curve: number[] };
  /** Intake's added latency over the S1 baseline at these offered rates (open loop, `seconds` each, `reps` runs). */
  s11: { rates: number[]; seconds: number; warmupS: number; reps: number };
  /** redis-benchmark ceilings of each stage's commands: operations per command measured. */
  s12: { ops: number };
  /** Write CPU profiles of the services under test (for targets not met). */
  profile: boolean;
}

export const FULL: Plan = {
  mode: 'full',
  reps: 3,
  s1: { warmupS: 3, closedS: 10, openS: 8, rates: [500, 1000, 1500, 2000, 3000], connections: 64, bodyBytes: 2048 },
  s2: { count: 50_000, bodyBytes: 1024, bigBodyBytes: 3_800, embeddings: true },
  s3: { lines: 50_000, bigLines: 230_000, embeddingInputs: 50_000 },
  s4: { concurrency: 64 },
  s5: { count: 10_000, clientConcurrency: 32 },
  s6: { directS: 120, prompts: 10_000, reps: 3 },
  s7: { connections: 10_000 },
  s8: { count: 10_000 },
  s10: { finished: 5_000, curve: [10_000, 100_000, 300_000, 1_000_000] },
  s11: { rates: [1000, 3000, 10_000], seconds: 5, warmupS: 2, reps: 2 },
  s12: { ops: 120_000 },
  profile: false,
};

export const QUICK: Plan = {
  mode: 'quick',
  reps: 1,
  s1: { warmupS: 1, closedS: 3, openS: 3, rates: [1500], connections: 64, bodyBytes: 2048 },
  s2: { count: 5_000, bodyBytes: 1024, bigBodyBytes: undefined, embeddings: true },
  s3: { lines: 5_000, bigLines: undefined, embeddingInputs: 5_000 },
  s4: { concurrency: 64 },
  s5: { count: 1_000, clientConcurrency: 32 },
  s6: { directS: 30, prompts: 2_000, reps: 1 },
  s7: { connections: 1_000 },
  s8: { count: 1_000 },
  s10: { finished: 2_000, curve: [10_000, 30_000] },
  s11: { rates: [1000, 3000, 10_000], seconds: 3, warmupS: 1, reps: 1 },
  s12: { ops: 50_000 },
  profile: false,
};

/** Progress lines go to stderr so that stdout holds only the table. */
export function progress(id: string, message: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${id} ${message}\n`);
}
