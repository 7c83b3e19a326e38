/**
 * `GET /v1/usage?from=&to=&group_by=` (SPEC §15): the calling tenant's own ledger — what its answered requests cost,
 * what the same tokens would have cost at realtime prices and the difference — per day and provider, model, lane (or
 * grouped by one of them). Dates are UTC days, `YYYY-MM-DD`, both inclusive; the range defaults to this month so far.
 */
import type { UsageGroupBy } from '@batchbridge/domain';
import type { Runtime } from '@batchbridge/runtime';
import type { Request, Response } from 'express';
import { tenantOf } from './auth.js';
import { invalidParam } from './errors.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const GROUPS: readonly UsageGroupBy[] = ['model', 'lane', 'provider'];
/** At most this many days per call: a year and a bit (older days are months in the ledger anyway). */
export const MAX_USAGE_DAYS = 400;

function dateParam(value: unknown, name: string, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  const s = String(value);
  if (
    !DATE.test(s) ||
    Number.isNaN(Date.parse(`${s}T00:00:00Z`)) ||
    new Date(`${s}T00:00:00Z`).toISOString().slice(0, 10) !== s
  )
    throw invalidParam(name, `${name} must be a date YYYY-MM-DD (UTC), got '${s.slice(0, 40)}'`);
  return s;
}

export function usageHandler(runtime: Runtime) {
  return async (req: Request, res: Response): Promise<void> => {
    const today = new Date().toISOString().slice(0, 10);
    const to = dateParam(req.query.to, 'to', today);
    const from = dateParam(req.query.from, 'from', `${to.slice(0, 7)}-01`);
    if (from > to) throw invalidParam('from', `from (${from}) is after to (${to})`);
    const days = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1;
    if (days > MAX_USAGE_DAYS) throw invalidParam('from', `at most ${MAX_USAGE_DAYS} days per call (asked ${days})`);
    const raw = req.query.group_by;
    let groupBy: UsageGroupBy | undefined;
    if (raw !== undefined && raw !== '') {
      if (!GROUPS.includes(String(raw) as UsageGroupBy))
        throw invalidParam(
          'group_by',
          `group_by must be one of ${GROUPS.join(', ')}, got '${String(raw).slice(0, 40)}'`,
        );
      groupBy = String(raw) as UsageGroupBy;
    }
    res.json(await runtime.store.ledger.usage(tenantOf(res).id, from, to, groupBy));
  };
}
