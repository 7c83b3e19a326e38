/**
 * Budgets at the door (SPEC §15): a tenant with `monthly_budget_usd` (or `daily_budget_usd`) is refused with 429
 * `budget_exceeded` once what it spent in the period plus an estimate of what it has queued — this request included —
 * would pass the budget. Spend comes from the ledger (summed over the partitions, cached per tenant for a second);
 * the estimate prices each open request at the tenant's average cost per billed request this month, or, with no
 * history yet, at this request's own input tokens at the batch price (its output is unknown until it is answered).
 * Tenants without a budget pay nothing: no Redis call.
 */

import type { Tenant } from '@batchbridge/config';
import { laneRate, type PriceTable, priceFor } from '@batchbridge/config';
import { ledgerDay, type Store } from '@batchbridge/domain';
import type { MetricsCatalog } from '@batchbridge/metrics';
import { ApiError } from './errors.js';

interface SpendView {
  day: string;
  month: string;
  dayUsd: number;
  monthUsd: number;
  monthRequests: number;
  open: number;
}

const usd = (v: number) => `$${v.toFixed(v < 1 ? 4 : 2)}`;

export class BudgetGate {
  private readonly cache = new Map<string, { at: number; value: Promise<SpendView> }>();

  constructor(
    private readonly store: Store,
    private readonly prices: PriceTable,
    /** Counts each refusal by period (`batchbridge_budget_refused_total`). */
    private readonly metrics?: MetricsCatalog,
    /** @defaultValue 1 s */
    private readonly ttlMs = 1_000,
  ) {}

  private view(tenant: string, now: number): Promise<SpendView> {
    const { day, month } = ledgerDay(now);
    const cached = this.cache.get(tenant);
    if (cached && now - cached.at <= this.ttlMs) return cached.value;
    const value = (async () => {
      const [spend, open] = await Promise.all([
        this.store.ledger.spend(tenant, day, month),
        this.store.requests.openCounts(tenant),
      ]);
      return { day, month, ...spend, open: open.tenant.reduce((a, b) => a + b, 0) };
    })();
    this.cache.set(tenant, { at: now, value });
    value.catch(() => {
      if (this.cache.get(tenant)?.value === value) this.cache.delete(tenant);
    });
    return value;
  }

  /** Throws 429 `budget_exceeded` when this request would take the tenant past a budget. */
  async check(
    tenant: Tenant,
    request: { model: string; tokens: number; providers: readonly string[] },
    now = Date.now(),
  ): Promise<void> {
    if (tenant.monthly_budget_usd === undefined && tenant.daily_budget_usd === undefined) return;
    await this.gate(tenant, this.inputCost(request.providers, { [request.model]: request.tokens }), 1, 'request', now);
  }

  /**
   * The same for a Batch API batch (SPEC §12): its `lines` requests, `tokensByModel` their input tokens, admitted at
   * once — priced like that many single requests arriving together.
   */
  async checkBatch(
    tenant: Tenant,
    batch: { lines: number; tokensByModel: Readonly<Record<string, number>>; providers: readonly string[] },
    now = Date.now(),
  ): Promise<void> {
    if (tenant.monthly_budget_usd === undefined && tenant.daily_budget_usd === undefined) return;
    await this.gate(tenant, this.inputCost(batch.providers, batch.tokensByModel), batch.lines, 'batch', now);
  }

  /** Input tokens at the batch price (what is known before an answer). */
  private inputCost(providers: readonly string[], tokensByModel: Readonly<Record<string, number>>): number {
    let usd = 0;
    for (const [model, tokens] of Object.entries(tokensByModel)) {
      const priced = priceFor(this.prices, providers, model);
      const rate = priced ? laneRate(priced.entry, 'batch') : undefined;
      if (rate) usd += (tokens * rate.input_per_1m) / 1e6;
    }
    return usd;
  }

  private async gate(tenant: Tenant, own: number, count: number, what: 'request' | 'batch', now: number) {
    const monthly = tenant.monthly_budget_usd;
    const daily = tenant.daily_budget_usd;
    const v = await this.view(tenant.id, now);
    const average = v.monthRequests > 0 ? v.monthUsd / v.monthRequests : own / count;
    const queued = v.open * average + Math.max(own, count * average);
    const refuse = (period: 'month' | 'day', budget: number, spent: number, retryAfterS: number): never => {
      this.metrics?.budgetRefused.inc({ period });
      throw new ApiError({
        status: 429,
        type: 'rate_limit_error',
        code: 'budget_exceeded',
        param: null,
        message:
          `${period === 'month' ? 'monthly' : 'daily'} budget of ${usd(budget)} reached: spent ${usd(spent)} this ` +
          `${period} (UTC) and about ${usd(queued)} queued with this ${what}` +
          `${what === 'batch' ? ` of ${count} lines` : ''} (${v.open} open); raise ` +
          `${period === 'month' ? 'monthly_budget_usd' : 'daily_budget_usd'} or retry next ${period}`,
        reason: 'budget',
        headers: { 'Retry-After': String(Math.max(1, retryAfterS)) },
      });
    };
    const date = new Date(now);
    if (daily !== undefined && v.dayUsd + queued > daily) {
      const next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() + 1);
      refuse('day', daily, v.dayUsd, Math.ceil((next - now) / 1000));
    }
    if (monthly !== undefined && v.monthUsd + queued > monthly) {
      const next = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
      refuse('month', monthly, v.monthUsd, Math.ceil((next - now) / 1000));
    }
  }
}
