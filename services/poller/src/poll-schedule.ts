/** When to look at a batch again: POLL_INTERVAL_MS × 1.5^polls, capped at POLL_MAX_INTERVAL_MS, with ±10 % jitter. */

export function nextPollDelay(
  polls: number,
  intervalMs: number,
  maxIntervalMs: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(maxIntervalMs, intervalMs * 1.5 ** Math.max(0, polls));
  // Jitter spreads the polls of batches submitted together, so that they do not hit the provider in step.
  return Math.max(1, Math.round(base * (0.9 + 0.2 * random())));
}
