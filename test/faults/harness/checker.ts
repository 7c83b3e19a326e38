/**
 * The Jepsen-style queue checker of the fault run: what went in (every 2xx the client got) against what came out
 * (every webhook the receiver got, every request object at the end, the simulator's own counters).
 */
import type { ReceivedWebhook } from '@batchbridge/testkit';
import type { LedgerEntry } from './client.js';
import type { GoneAttempts } from './log-scan.js';
import { parsePath } from './receiver.js';

const TERMINAL = new Set(['completed', 'failed', 'cancelled']);
const OUTCOME_TYPE: Record<string, string> = {
  completed: 'request.completed',
  failed: 'request.failed',
  cancelled: 'request.cancelled',
};

export interface CheckInput {
  entries: readonly LedgerEntry[];
  deliveries: readonly ReceivedWebhook[];
  /** Deliveries the receiver answered 2xx. */
  accepted: ReadonlySet<ReceivedWebhook>;
  /** What the dispatcher saw and did after a 410, by request id (from its log). */
  goneSeen: ReadonlyMap<string, GoneAttempts>;
  /** The final request object of each accepted entry, by request id (undefined: 404). */
  finals: ReadonlyMap<string, { status: number; body: Record<string, unknown> | undefined }>;
  /** Simulator: custom_ids answered by more than one batch. */
  answeredTwice: readonly string[];
  /** Simulator: custom_ids it answered with a 4xx error line (a failure the request itself earned). */
  rejectedBySim: readonly string[];
  /** Simulator: how many provider batches carry each flush id in their metadata. */
  batchesPerFlush: ReadonlyMap<string, number>;
  /** When Redis was SIGKILLed (ms since epoch). */
  redisKills: readonly number[];
  internalHits: number;
}

export interface CheckResult {
  requests: number;
  accepted: number;
  recoveredByReplay: number;
  abandoned: number;
  lost: number;
  /** Missing, but acknowledged less than 1 s before a Redis SIGKILL (allowed by AOF everysec). */
  lostInAofWindow: number;
  duplicated: number;
  unexpected: number;
  stuck: number;
  wrongTenant: number;
  unverified: number;
  wrongOutcome: number;
  /** Poison requests in the ledger (issue 16.1). */
  poison: number;
  /** Poison requests that did not end `failed`. */
  poisonNotFailed: number;
  /**
   * Requests that failed for a poison request's batch: not poison themselves, never refused by the provider with a
   * 4xx, and their last error is the whole-file failure a poison request caused (the bug of issue 16.1).
   */
  innocentFailed: number;
  /** Other requests that failed with no refusal of their own: MAX_ATTEMPTS used up by the run's faults (allowed). */
  exhaustedByFaults: number;
  /** Entries that waited for their outcome (transparent mode), and how many got it in the response. */
  waited: number;
  waitedAnswered: number;
  /** A waiting client answered with a completion other than the request's final one (must be 0). */
  waitedWrong: number;
  secondBatchForFlush: number;
  redirectsFollowed: number;
  goneRetried: number;
  /** Outcomes sent again after a 410 because their job's completion was lost (not a retry; allowed, reported). */
  goneResent: number;
  deliveries: number;
  outcomesDelivered: number;
  byStatus: Record<string, number>;
  /** A few examples per failed check, for the report. */
  examples: Record<string, string[]>;
}

export function check(input: CheckInput): CheckResult {
  const examples: Record<string, string[]> = {};
  const note = (what: string, text: string) => {
    const list = examples[what] ?? [];
    examples[what] = list;
    if (list.length < 5) list.push(text);
  };
  const byId = new Map<string, LedgerEntry>();
  for (const e of input.entries) if (e.id) byId.set(e.id, e);

  const deliveriesById = new Map<string, ReceivedWebhook[]>();
  let unexpected = 0;
  let wrongTenant = 0;
  let unverified = 0;
  for (const d of input.deliveries) {
    if (d.path.startsWith('/internal/')) continue;
    const data = (d.json as { data?: { id?: unknown } } | undefined)?.data;
    const id = typeof data?.id === 'string' ? data.id : '';
    const entry = byId.get(id);
    if (!entry) {
      unexpected += 1;
      note('unexpected', `${d.webhookId} ${id || '(no id)'} at ${d.path}`);
      continue;
    }
    const list = deliveriesById.get(id) ?? [];
    list.push(d);
    deliveriesById.set(id, list);
    if (parsePath(d.path)?.tenant !== entry.tenant) {
      wrongTenant += 1;
      note('wrongTenant', `${id} of ${entry.tenant} delivered to ${d.path}`);
    }
    if (!d.verified) {
      unverified += 1;
      note('unverified', `${id}: ${d.verifyError ?? ''}`);
    }
  }

  const answeredTwice = new Set(input.answeredTwice);
  let lost = 0;
  let lostInAofWindow = 0;
  let duplicated = 0;
  let stuck = 0;
  let wrongOutcome = 0;
  let goneRetried = 0;
  let goneResent = 0;
  let outcomesDelivered = 0;
  let poisonNotFailed = 0;
  let innocentFailed = 0;
  let exhaustedByFaults = 0;
  let waitedWrong = 0;
  const rejected = new Set(input.rejectedBySim);
  const byStatus: Record<string, number> = {};
  for (const entry of input.entries) {
    if (!entry.id) continue;
    const final = input.finals.get(entry.id);
    const status = typeof final?.body?.status === 'string' ? final.body.status : `http-${final?.status ?? 'none'}`;
    byStatus[status] = (byStatus[status] ?? 0) + 1;
    if (entry.poison && status !== 'failed') {
      poisonNotFailed += 1;
      note('poisonNotFailed', `${entry.id} (poison ${entry.poison}) is ${status}`);
    }
    if (!entry.poison && status === 'failed' && !rejected.has(entry.id)) {
      const error = JSON.stringify(final?.body?.error ?? null);
      if (/\[sim:poison|invalid_file/.test(error)) {
        innocentFailed += 1;
        note('innocentFailed', `${entry.id} failed for a poison neighbour: ${error.slice(0, 200)}`);
      } else exhaustedByFaults += 1;
    }
    const got = deliveriesById.get(entry.id) ?? [];
    if (got.some((d) => input.accepted.has(d))) outcomesDelivered += 1;
    if (entry.waits?.answer !== undefined) {
      const response = final?.body?.response as { body?: { choices?: Array<{ message?: { content?: string } }> } };
      const content = response?.body?.choices?.[0]?.message?.content;
      if (status !== 'completed' || content !== entry.waits.answer) {
        waitedWrong += 1;
        note('waitedWrong', `${entry.id} answered "${entry.waits.answer.slice(0, 60)}", final ${status}`);
      }
    }

    if (final?.status === 404 || final === undefined) {
      const acked = entry.acceptedAt ?? 0;
      if (input.redisKills.some((k) => acked <= k && acked > k - 1_000)) lostInAofWindow += 1;
      else {
        lost += 1;
        // How it was accepted tells a lost 202 from a lost 200 replay (whose WAIT covered another connection's write).
        const how = entry.recoveredByReplay ? '200 replay' : entry.waits ? `wait ${entry.waits.status}` : '202';
        note(
          'lost',
          `${entry.id} (${entry.key}) accepted at ${new Date(acked).toISOString()} by ${how} after ${entry.tries} tries: GET ${final?.status}`,
        );
      }
      continue;
    }
    if (!TERMINAL.has(status)) {
      stuck += 1;
      note('stuck', `${entry.id} still ${status}`);
      continue;
    }
    if (got.length === 0) {
      // Terminal, but its webhook was never attempted: the outcome is lost to the caller.
      lost += 1;
      note('lost', `${entry.id} is ${status} but no webhook was attempted`);
      continue;
    }
    const ids = new Set(got.map((d) => d.webhookId));
    const bodies = new Set(got.map((d) => d.body));
    if (ids.size > 1 || bodies.size > 1 || answeredTwice.has(entry.id)) {
      duplicated += 1;
      note(
        'duplicated',
        `${entry.id}: ${ids.size} webhook-ids, ${bodies.size} bodies, twice=${answeredTwice.has(entry.id)}`,
      );
    }
    const types = new Set(got.map((d) => (d.json as { type?: string } | undefined)?.type));
    if (types.size !== 1 || !types.has(OUTCOME_TYPE[status])) {
      wrongOutcome += 1;
      note('wrongOutcome', `${entry.id} is ${status}, webhooks: ${[...types].join(',')}`);
    }
    const gone = input.goneSeen.get(entry.id);
    if (gone !== undefined) {
      // 410 stops: once the dispatcher has seen a 410 for this outcome, its retries stop. The same attempt may run
      // again when its job's completion was lost (at-least-once; the receiver dedupes on webhook-id): counted apart.
      const after = got.filter((d) => d.receivedAt.getTime() > gone.at).length;
      if (gone.retriedAfter) {
        goneRetried += 1;
        note('goneRetried', `${entry.id}: retried after the dispatcher saw a 410 at attempt ${gone.attempt}`);
      } else if (after > 0) {
        goneResent += 1;
      }
    }
  }
  for (const id of answeredTwice) {
    if (!byId.has(id)) {
      duplicated += 1;
      note('duplicated', `${id} answered by two batches (not in the ledger)`);
    }
  }
  let secondBatchForFlush = 0;
  for (const [flush, n] of input.batchesPerFlush) {
    if (n > 1) {
      secondBatchForFlush += n - 1;
      note('secondBatchForFlush', `${flush}: ${n} batches`);
    }
  }
  if (input.internalHits > 0) note('redirectsFollowed', `${input.internalHits} hits on the redirect target`);

  const accepted = input.entries.filter((e) => e.id).length;
  return {
    requests: input.entries.length,
    accepted,
    recoveredByReplay: input.entries.filter((e) => e.recoveredByReplay).length,
    abandoned: input.entries.filter((e) => e.abandoned).length,
    lost,
    lostInAofWindow,
    duplicated,
    unexpected,
    stuck,
    wrongTenant,
    unverified,
    wrongOutcome,
    poison: input.entries.filter((e) => e.id && e.poison).length,
    poisonNotFailed,
    innocentFailed,
    exhaustedByFaults,
    waited: input.entries.filter((e) => e.id && e.waits).length,
    waitedAnswered: input.entries.filter((e) => e.waits?.answer !== undefined).length,
    waitedWrong,
    secondBatchForFlush,
    redirectsFollowed: input.internalHits,
    goneRetried,
    goneResent,
    deliveries: input.deliveries.length,
    outcomesDelivered,
    byStatus,
    examples,
  };
}
