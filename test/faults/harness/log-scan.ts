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

/** What the dispatcher logs say about the outcomes that got a 410. */
export interface GoneAttempts {
  /** When the dispatcher first saw a 410 for the request (ms since epoch). */
  at: number;
  /** The attempt number (BullMQ attemptsMade + 1) that got it. */
  attempt: number;
  /** Whether the dispatcher later logged a higher attempt for it: it retried after a 410 (must never happen). */
  retriedAfter: boolean;
}

/**
 * When each dispatcher first saw a 410 for a request, and whether it went on retrying. A 410 the receiver sent after
 * the sender had timed out is not one the dispatcher saw, hence the logs. The same attempt run again (its job's
 * completion was lost: the process died or its job lock expired after the answer) is a resend, not a retry.
 */
export async function goneSeenByDispatcher(dir: string): Promise<Map<string, GoneAttempts>> {
  const lines: Array<{ requestId: string; at: number; attempt: number; status: unknown }> = [];
  for (const file of readdirSync(dir).filter((f) => f.startsWith('dispatcher') && f.endsWith('.log'))) {
    const input = createInterface({ input: createReadStream(join(dir, file)), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of input) {
      if (!line.includes('"attempt"')) continue;
      let entry: { requestId?: unknown; time?: unknown; status?: unknown; attempt?: unknown };
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        continue;
      }
      if (typeof entry.requestId !== 'string' || typeof entry.time !== 'string') continue;
      if (typeof entry.attempt !== 'number') continue;
      lines.push({
        requestId: entry.requestId,
        at: Date.parse(entry.time),
        attempt: entry.attempt,
        status: entry.status,
      });
    }
  }
  const gone = new Map<string, GoneAttempts>();
  for (const l of lines) {
    if (l.status !== 410) continue;
    const before = gone.get(l.requestId);
    if (before === undefined || l.at < before.at)
      gone.set(l.requestId, { at: l.at, attempt: l.attempt, retriedAfter: false });
  }
  for (const l of lines) {
    const g = gone.get(l.requestId);
    if (g && l.at > g.at && l.attempt > g.attempt) g.retriedAfter = true;
  }
  return gone;
}
