/**
 * Budget events (SPEC §15): after a batch is routed, each tenant it billed that has a `monthly_budget_usd` or
 * `daily_budget_usd` and an `operations_url` gets one `budget.threshold` operational event per period and threshold
 * (80 %, 100 %) its spend reaches, signed and retried like every operational event. The event job has a deterministic
 * id and a gate (`G:budget:…`) is set after it is queued: two pollers, or one that dies in between, queue it at most
 * twice (BullMQ drops the second while the first is kept), never zero times.
 */
import { jobIds, ledgerDay, type Store } from '@batchbridge/domain';
import type { Logger } from '@batchbridge/logger';
import type { OperationalEventData } from '@batchbridge/queues';
import type { Runtime } from '@batchbridge/runtime';

export const BUDGET_THRESHOLDS = [80, 100] as const;

/** The partition whose deliver queue carries budget events: one queue, so that the job id dedupes across pollers. */
const EVENT_PARTITION = 0;

export async function checkBudgets(
  runtime: Runtime,
  store: Store,
  tenantIds: Iterable<string>,
  log: Logger,
  now = Date.now(),
): Promise<number> {
  const { day, month } = ledgerDay(now);
  let queued = 0;
  for (const id of tenantIds) {
    const tenant = runtime.tenants.get(id);
    if (tenant?.operations_url === undefined) continue;
    if (tenant.monthly_budget_usd === undefined && tenant.daily_budget_usd === undefined) continue;
    const spend = await store.ledger.spend(id, day, month);
    const periods = [
      { kind: 'month', period: month, budget: tenant.monthly_budget_usd, spent: spend.monthUsd },
      { kind: 'day', period: day, budget: tenant.daily_budget_usd, spent: spend.dayUsd },
    ] as const;
    for (const { kind, period, budget, spent } of periods) {
      if (budget === undefined) continue;
      for (const percent of BUDGET_THRESHOLDS) {
        if (spent < (budget * percent) / 100) continue;
        if (await store.ledger.budgetAlertSent(id, period, percent)) continue;
        const eventId = `evt_bud_${id}_${period}_${percent}`;
        const body = JSON.stringify({
          type: 'budget.threshold',
          timestamp: new Date(now).toISOString(),
          data: {
            tenant: id,
            period: kind,
            period_start: period,
            threshold_percent: percent,
            budget_usd: budget,
            spent_usd: spent,
          },
        });
        const event: OperationalEventData = { id: eventId, tenant: id, type: 'budget.threshold', body };
        await runtime.queues.addBulk('deliver', EVENT_PARTITION, [
          { jobId: jobIds.event(eventId), data: { partition: EVENT_PARTITION, requestId: eventId, event } },
        ]);
        await store.ledger.markBudgetAlert(id, period, percent);
        runtime.metrics.m.webhookEvents.inc({ type: 'budget.threshold', outcome: 'queued' });
        log.info({ tenant: id, period, percent, spentUsd: spent, budgetUsd: budget }, 'budget threshold reached');
        queued++;
      }
    }
  }
  return queued;
}
