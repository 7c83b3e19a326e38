/** Scans every line the run's children wrote for secrets and prompt text: none may appear (SPEC §6, STYLE logging). */
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface Needle {
  /** What kind of secret, for the report (never the value itself). */
  label: string;
  value: string;
}

export interface LogScanResult {
  files: number;
  lines: number;
  /** Lines holding a needle, per label. */
  hits: Record<string, number>;
  /** Where (file:line and label), never what. */
  examples: string[];
}

export async function scanLogs(dir: string, needles: readonly Needle[]): Promise<LogScanResult> {
  const result: LogScanResult = { files: 0, lines: 0, hits: {}, examples: [] };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.log'))) {
    result.files += 1;
    const lines = createInterface({ input: createReadStream(join(dir, file)), crlfDelay: Number.POSITIVE_INFINITY });
    let n = 0;
    for await (const line of lines) {
      n += 1;
      for (const needle of needles) {
        if (!line.includes(needle.value)) continue;
        result.hits[needle.label] = (result.hits[needle.label] ?? 0) + 1;
        if (result.examples.length < 10) result.examples.push(`${file}:${n} (${needle.label})`);
      }
    }
    result.lines += n;
  }
  return result;
}

/**
 * When each dispatcher first saw a 410 for a request (its log line "receiver answered 410 Gone…"): no attempt may
 * follow. A 410 the receiver sent after the sender had timed out is not one the dispatcher saw, hence the logs.
 */
export async function goneSeenByDispatcher(dir: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (const file of readdirSync(dir).filter((f) => f.startsWith('dispatcher') && f.endsWith('.log'))) {
    const lines = createInterface({ input: createReadStream(join(dir, file)), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      if (!line.includes('410')) continue;
      let entry: { msg?: unknown; requestId?: unknown; time?: unknown; status?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (entry.status !== 410 || typeof entry.requestId !== 'string' || typeof entry.time !== 'string') continue;
      const at = Date.parse(entry.time);
      const before = seen.get(entry.requestId);
      if (before === undefined || at < before) seen.set(entry.requestId, at);
    }
  }
  return seen;
}
