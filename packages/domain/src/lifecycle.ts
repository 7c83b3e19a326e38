/**
 * The request lifecycle, enforced in one place: this table is compiled into every Lua script that changes a request's
 * status (see scripts.ts), so Redis itself refuses an illegal transition.
 *
 *   queued ──claim──▶ batched ──submit──▶ submitted ──result──▶ completed | failed
 *     │  ▲                │                   │
 *     │  └────────────────┴──── retry ◀───────┘   (back to queued, attempts counted per submitted batch)
 *     └──cancel──▶ cancelled                      (batched → failed when the provider refuses the file or batch)
 */
export const REQUEST_STATUSES = ['queued', 'batched', 'submitted', 'completed', 'failed', 'cancelled'] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

export const TERMINAL_STATUSES: readonly RequestStatus[] = ['completed', 'failed', 'cancelled'];
export const OPEN_STATUSES = ['queued', 'batched', 'submitted'] as const;

export const TRANSITIONS: Readonly<Record<RequestStatus, readonly RequestStatus[]>> = {
  queued: ['batched', 'cancelled'],
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

/** A transition table as a Lua table literal, for the scripts. */
function tableLua(table: Readonly<Record<string, readonly string[]>>): string {
  const rows = Object.entries(table).map(([from, tos]) => `${from}={${tos.map((to) => `${to}=true`).join(',')}}`);
  return `{${rows.join(',')}}`;
}

/** The flush transition table as a Lua table literal. */
export function flushTransitionsLua(): string {
  return tableLua(FLUSH_TRANSITIONS);
}

/** Error codes a request can fail with (`error.code` of the request object). */
export const FAILURE_CODES = ['max_attempts_exceeded', 'provider_rejected'] as const;
export type FailureCode = (typeof FAILURE_CODES)[number];
