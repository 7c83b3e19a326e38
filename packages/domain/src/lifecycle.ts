/**
 * The three state machines of batchbridge — requests, flushes, batches — each as one transition table. The tables are
 * compiled into the Lua scripts' generated prelude (lua.ts: `ALLOWED`, `FLUSH_ALLOWED`, `BATCH_ALLOWED`), and every
 * script that changes a state goes through the one helper of its machine (`includes/move.lua`, `flush-move.lua`,
 * `batch-move.lua`), so Redis itself refuses an illegal transition.
 *
 * The request lifecycle (hash `T:req:<id>`, field `status`):
 *
 *   queued ──claim──▶ batched ──submit──▶ submitted ──result──▶ completed | failed
 *     │  ▲                │                   │
 *     │  └────────────────┴──── retry ◀───────┘   (back to queued, attempts counted per submitted batch)
 *     └──cancel──▶ cancelled                      (batched → failed when the provider refuses the file or batch)
 *
 *   queued ──lane claim──▶ submitted   (a fast lane, SPEC §10: `flex` or `realtime` takes the request for one
 *                                       synchronous call; its run id stands in `batch_id`, so the same settle applies)
 */
export const REQUEST_STATUSES = ['queued', 'batched', 'submitted', 'completed', 'failed', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'failed', 'cancelled'];
export const OPEN_STATUSES = ['queued', 'batched', 'submitted'] as const;

export const TRANSITIONS: Readonly<Record<RequestStatus, readonly RequestStatus[]>> = {
  queued: ['batched', 'submitted', 'cancelled'],
  batched: ['submitted', 'queued', 'failed'],
  submitted: ['completed', 'failed', 'queued'],
  completed: [],
  failed: [],
  cancelled: [],
};

export function canTransition(from: RequestStatus, to: RequestStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function isTerminal(status: RequestStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** The transition table as a Lua table literal, for the scripts. */
export function transitionsLua(): string {
  return tableLua(TRANSITIONS);
}

/**
 * The flush lifecycle (hash `T:flush:<id>`), compiled into the flush scripts the same way:
 *
 *   claiming ──▶ claimed ──upload──▶ uploaded ──create──▶ submitting ──all requests marked──▶ submitted
 *                   │  ▲               │                     (batch id recorded: a re-run resumes, never creates)
 *                   │  └──re-upload────┘   (the provider lost the input file)
 *                   └──────────────────┴──▶ failed            (the provider refused the file or the batch)
 *
 * `claimed → submitting` is the adoption of a batch an earlier run created (its file id comes from the batch).
 * A run uploads the input file exactly when the flush is `claimed`; `uploaded` holds the recorded file id.
 */
export const FLUSH_STATES = ['claiming', 'claimed', 'uploaded', 'submitting', 'submitted', 'failed'] as const;
export type FlushState = (typeof FLUSH_STATES)[number];

export const FLUSH_TRANSITIONS: Readonly<Record<FlushState, readonly FlushState[]>> = {
  claiming: ['claimed'],
  claimed: ['uploaded', 'submitting', 'failed'],
  uploaded: ['claimed', 'submitting', 'failed'],
  submitting: ['submitted'],
  submitted: [],
  failed: [],
};

/**
 * The batch lifecycle (hash `T:batch:<id>`, field `status`): `submitted` when the packer records it, then the
 * provider's status as each poll sees it (RECORD_POLL), until routing (FINISH_BATCH) sets `routed_at` — after which
 * the batch takes no move at all. A poll that sees the status unchanged is no move.
 *
 *   submitted ──poll──▶ validating | in_progress | finalizing | cancelling   (in any order: the provider's business)
 *       │                        │
 *       └────────────┬───────────┘
 *                    ▼
 *   completed | failed | expired | cancelled ──route──▶ (routed_at set, status kept)
 *                    │
 *                    └──────▶ not_found   (the provider lost the batch before it was routed: its requests are retried)
 *
 * The provider's statuses are mirrored from @batchbridge/provider's BATCH_STATUSES (a poller test keeps them in step).
 */
export const LIVE_BATCH_STATES = ['submitted', 'validating', 'in_progress', 'finalizing', 'cancelling'] as const;
export const FINISHED_BATCH_STATES = ['completed', 'failed', 'expired', 'cancelled', 'not_found'] as const;
export const BATCH_STATES = [...LIVE_BATCH_STATES, ...FINISHED_BATCH_STATES] as const;
export type BatchState = (typeof BATCH_STATES)[number];

const polled = ['validating', 'in_progress', 'finalizing', 'cancelling'] as const;
const finished = FINISHED_BATCH_STATES;
export const BATCH_TRANSITIONS: Readonly<Record<BatchState, readonly BatchState[]>> = {
  submitted: [...polled, ...finished],
  validating: [...polled.filter((s) => s !== 'validating'), ...finished],
  in_progress: [...polled.filter((s) => s !== 'in_progress'), ...finished],
  finalizing: [...polled.filter((s) => s !== 'finalizing'), ...finished],
  cancelling: [...polled.filter((s) => s !== 'cancelling'), ...finished],
  completed: ['not_found'],
  failed: ['not_found'],
  expired: ['not_found'],
  cancelled: ['not_found'],
  not_found: [],
};

export function isBatchState(s: string): s is BatchState {
  return (BATCH_STATES as readonly string[]).includes(s);
}

/** A transition table as a Lua table literal, for the scripts' prelude. */
function tableLua(table: Readonly<Record<string, readonly string[]>>): string {
  const rows = Object.entries(table).map(([from, tos]) => `${from}={${tos.map((to) => `${to}=true`).join(',')}}`);
  return `{${rows.join(',')}}`;
}

/** The flush transition table as a Lua table literal. */
export function flushTransitionsLua(): string {
  return tableLua(FLUSH_TRANSITIONS);
}

/** The batch transition table as a Lua table literal. */
export function batchTransitionsLua(): string {
  return tableLua(BATCH_TRANSITIONS);
}

/** The open (non-terminal) request statuses as a Lua set literal. */
export function openStatusesLua(): string {
  return `{${OPEN_STATUSES.map((s) => `${s}=true`).join(',')}}`;
}

/** Error codes a request can fail with (`error.code` of the request object). */
export const FAILURE_CODES = ['max_attempts_exceeded', 'provider_rejected'] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];
