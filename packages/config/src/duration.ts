/** Durations in configuration: `<n>ms|s|m|h|d`, e.g. `500ms`, `5s`, `30m`, `7d`. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(raw: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(raw);
  if (!match) return undefined;
  const [, amount, unit] = match;
  return Math.round(Number(amount) * (UNIT_MS[unit ?? 'ms'] ?? 1));
}

/** `5s,5m,30m` → `[5000, 300000, 1800000]`; undefined when any entry is malformed. */
export function parseDurationList(raw: string): number[] | undefined {
  const parts = raw
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const out: number[] = [];
  for (const part of parts) {
    const ms = parseDuration(part);
    if (ms === undefined) return undefined;
    out.push(ms);
  }
  return out;
}
