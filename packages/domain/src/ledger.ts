/**
 * The ledgers (SPEC §15):
 * - per tenant and day, per partition: written by the settle script that bills an answer (includes/bill.lua), so a
 *   cost is counted once with the outcome it belongs to, whatever crashes and retries; read here summed over the
 *   partitions (`usage`: `GET /v1/usage`, the operator page; `spend`: budgets);
 * - estimated savings per model (price table × tokens of completed results), summed across all pollers in one
 *   global hash (`G:savings`), for the operator page's deployment-wide view.
 */
import type { UsageAmounts, UsageReport, UsageRow } from '@batchbridge/client';
import type { StoreContext } from './store-context.js';

export type { UsageReport, UsageRow } from '@batchbridge/client';

/** What `GET /v1/usage` may group rows by besides the date; none: by provider, model and lane. */
export type UsageGroupBy = 'model' | 'lane' | 'provider';

const DAY_MS = 86_400_000;
const epochDayOf = (date: string): number => Math.floor(Date.parse(`${date}T00:00:00Z`) / DAY_MS);

function monthRange(month: string): [number, number] {
  const start = epochDayOf(`${month}-01`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  const end = Math.floor(Date.UTC(y, m, 1) / DAY_MS) - 1;
  return [start, end];
}

const emptyAmounts = (): UsageAmounts => ({ usd: 0, realtime_usd: 0, saved_usd: 0, requests: 0, unpriced_requests: 0 });

/** Sums in nano-USD while reading, converted once at the end. */
interface NanoAmounts {
  usd: number;
  rt: number;
  n: number;
  up: number;
}

/** Estimated savings of one model (price table × tokens of completed results). */
export interface ModelSavings {
  model: string;
  usd: number;
  inputTokens: number;
  outputTokens: number;
}

/** Fields of the savings hash, per model: `<kind>:<model>`. */
const FIELD = { usd: 'usd_micro', input: 'in', output: 'out' } as const;

export class Ledger {
  private readonly ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
  }

  /** Adds estimated savings; money is kept in integer micro-dollars so that many small additions do not drift. */
  async addSavings(entries: readonly ModelSavings[]): Promise<void> {
    if (entries.length === 0) return;
    const multi = this.ctx.redis.multi();
    const key = this.ctx.keys.savings();
    for (const e of entries) {
      multi.hincrby(key, `${FIELD.usd}:${e.model}`, Math.round(e.usd * 1e6));
      multi.hincrby(key, `${FIELD.input}:${e.model}`, e.inputTokens);
      multi.hincrby(key, `${FIELD.output}:${e.model}`, e.outputTokens);
    }
    await multi.exec();
  }

  /**
   * The tenant's ledger from `from` to `to` (YYYY-MM-DD, inclusive), summed over the partitions: one row per date
   * and group. A month whose days were rolled up is one row dated `YYYY-MM`, counted whole when it overlaps the range.
   */
  async usage(tenant: string, from: string, to: string, groupBy?: UsageGroupBy): Promise<UsageReport> {
    const fromDay = epochDayOf(from);
    const toDay = epochDayOf(to);
    const rows = new Map<string, { row: Omit<UsageRow, keyof UsageAmounts>; nano: NanoAmounts }>();
    const total: NanoAmounts = { usd: 0, rt: 0, n: 0, up: 0 };
    await Promise.all(
      this.ctx.keys.allPartitions().map(async (p) => {
        const k = this.ctx.keys.partitionKeys(p);
        // A month's score is its first day: a month overlapping `from` starts up to 30 days before it.
        const periods = await this.ctx.redis.zrangebyscore(k.ledger(tenant), fromDay - 31, toDay);
        const wanted = periods.filter((period) => {
          if (period.length === 10) {
            const d = epochDayOf(period);
            return d >= fromDay && d <= toDay;
          }
          const [start, end] = monthRange(period);
          return start <= toDay && end >= fromDay;
        });
        const hashes = await Promise.all(
          wanted.map((period) => this.ctx.redis.hgetall(k.ledgerPeriod(tenant, period))),
        );
        hashes.forEach((h, i) => {
          const date = wanted[i] as string;
          for (const [field, value] of Object.entries(h as Record<string, string>)) {
            const parts = field.split('|');
            if (parts.length < 4) continue;
            const kind = parts[0] as keyof NanoAmounts;
            const provider = parts[1] as string;
            const lane = parts[parts.length - 1] as string;
            const model = parts.slice(2, -1).join('|');
            const row: Omit<UsageRow, keyof UsageAmounts> = {
              date,
              provider: !groupBy || groupBy === 'provider' ? provider : null,
              model: !groupBy || groupBy === 'model' ? model : null,
              lane: !groupBy || groupBy === 'lane' ? lane : null,
            };
            const key = `${row.date}\u0000${row.provider}\u0000${row.model}\u0000${row.lane}`;
            let entry = rows.get(key);
            if (!entry) {
              entry = { row, nano: { usd: 0, rt: 0, n: 0, up: 0 } };
              rows.set(key, entry);
            }
            const v = Number(value);
            if (!(kind in entry.nano)) continue;
            entry.nano[kind] += v;
            total[kind] += v;
          }
        });
      }),
    );
    const amounts = (x: NanoAmounts): UsageAmounts => ({
      usd: x.usd / 1e9,
      realtime_usd: x.rt / 1e9,
      saved_usd: (x.rt - x.usd) / 1e9,
      requests: x.n,
      unpriced_requests: x.up,
    });
    const data = [...rows.values()]
      .map(({ row, nano }) => ({ ...row, ...amounts(nano) }))
      .sort(
        (a, b) =>
          a.date.localeCompare(b.date) ||
          String(a.provider).localeCompare(String(b.provider)) ||
          String(a.model).localeCompare(String(b.model)) ||
          String(a.lane).localeCompare(String(b.lane)),
      );
    return { object: 'usage', from, to, total: rows.size === 0 ? emptyAmounts() : amounts(total), data };
  }

  /** The tenant's spend (USD) on a day and in a month (UTC), summed over the partitions: what budgets compare. */
  async spend(
    tenant: string,
    day: string,
    month: string,
  ): Promise<{ dayUsd: number; monthUsd: number; monthRequests: number }> {
    const replies = await Promise.all(
      this.ctx.keys
        .allPartitions()
        .map((p) =>
          this.ctx.redis.hmget(this.ctx.keys.partitionKeys(p).spend(tenant), `d:${day}`, `m:${month}`, `c:${month}`),
        ),
    );
    let dayNano = 0;
    let monthNano = 0;
    let monthRequests = 0;
    for (const [d, m, c] of replies) {
      dayNano += Number(d ?? 0);
      monthNano += Number(m ?? 0);
      monthRequests += Number(c ?? 0);
    }
    return { dayUsd: dayNano / 1e9, monthUsd: monthNano / 1e9, monthRequests };
  }

  /** Whether the budget event of this tenant, period (`YYYY-MM` or `YYYY-MM-DD`) and threshold was queued already. */
  async budgetAlertSent(tenant: string, period: string, percent: number): Promise<boolean> {
    return (await this.ctx.redis.exists(this.ctx.keys.budgetAlert(tenant, period, percent))) === 1;
  }

  /** Marks it queued (after queueing it: a crash between queues it twice, never zero times). */
  async markBudgetAlert(tenant: string, period: string, percent: number): Promise<void> {
    await this.ctx.redis.set(this.ctx.keys.budgetAlert(tenant, period, percent), '1', 'PX', 40 * DAY_MS);
  }

  /** Estimated savings per model so far, largest first. */
  async savings(): Promise<ModelSavings[]> {
    const h = (await this.ctx.redis.hgetall(this.ctx.keys.savings())) as Record<string, string>;
    const byModel = new Map<string, ModelSavings>();
    const entry = (model: string) => {
      let e = byModel.get(model);
      if (!e) {
        e = { model, usd: 0, inputTokens: 0, outputTokens: 0 };
        byModel.set(model, e);
      }
      return e;
    };
    for (const [field, value] of Object.entries(h)) {
      const colon = field.indexOf(':');
      const kind = field.slice(0, colon);
      const model = field.slice(colon + 1);
      if (kind === FIELD.usd) entry(model).usd = Number(value) / 1e6;
      else if (kind === FIELD.input) entry(model).inputTokens = Number(value);
      else if (kind === FIELD.output) entry(model).outputTokens = Number(value);
    }
    return [...byModel.values()].sort((a, b) => b.usd - a.usd);
  }
}
