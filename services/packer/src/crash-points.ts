/**
 * Fault-injection hooks for the crash-recovery tests: the flush path calls `crashPoint(name)` at each step where a
 * process death must not lose requests nor create a second provider batch. In production the hook is a no-op;
 * `main.ts` wires env `BB_FAULT_CRASH_AT=<name>` to a SIGKILL of the process at that step (tests only).
 */

export const CRASH_POINTS = [
  /** Requests claimed into a flush, its job not yet handed to BullMQ (the outbox sweep must relay it). */
  'after-claim',
  /** Part of the JSONL written to the temporary file, nothing uploaded yet. */
  'mid-upload',
  /** `files.create` answered, its file id not yet recorded on the flush (an orphan file is left at the provider). */
  'after-upload',
  /** `create_started` set on the flush, `batches.create` not yet sent. */
  'before-create',
  /** `batches.create` answered, the batch id not yet recorded (recovery must adopt the batch, not create another). */
  'after-create',
  /** The batch id recorded on the flush and its requests marked submitted, the batch not yet recorded as live (the next
   * run must finish recording it with this batch, not look for one or create another). */
  'mid-record',
  /** Submission recorded, the poll job not yet handed to BullMQ. */
  'after-record',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

export function isCrashPoint(value: string | undefined): value is CrashPoint {
  return (CRASH_POINTS as readonly string[]).includes(value ?? '');
}

/** The hook for `BB_FAULT_CRASH_AT`: calls `die` when the named step is reached; undefined for no (or an unknown) name. */
export function crashAt(name: string | undefined, die: () => void): ((point: CrashPoint) => void) | undefined {
  if (!isCrashPoint(name)) return undefined;
  return (point) => {
    if (point === name) die();
  };
}
