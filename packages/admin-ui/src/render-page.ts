/**
 * The server-rendered pages: the overview and the login form. Plain HTML and inline CSS, no script and no external
 * asset (the page's Content-Security-Policy forbids both), so it works from an air-gapped operator laptop.
 */
import type { DeliveryAttempt } from '@batchbridge/domain';
import { html, raw, type SafeHtml } from './html.js';
import type { BatchRow, DeadLetterRow, EndpointRow, Overview, ProviderRow } from './overview.js';

const STYLE = `
:root { color-scheme: light dark; --fg:#1d2430; --muted:#637083; --line:#d9dee6; --bg:#f6f7f9; --card:#fff;
  --ok:#1f7a3d; --warn:#9a6700; --bad:#b42318; --accent:#2354c9; }
@media (prefers-color-scheme: dark) { :root { --fg:#e6e9ef; --muted:#9aa4b2; --line:#2d3440; --bg:#12161c;
  --card:#1a2029; --ok:#4cc27a; --warn:#e3b341; --bad:#f47067; --accent:#6f9cff; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 1.5rem; padding: .8rem 1.5rem; background: var(--card);
  border-bottom: 1px solid var(--line); }
header h1 { font-size: 1.05rem; margin: 0; }
header nav { display: flex; gap: 1rem; align-items: center; margin-left: auto; }
a { color: var(--accent); }
main { padding: 1.2rem 1.5rem 3rem; max-width: 1400px; }
h2 { font-size: 1rem; margin: 1.8rem 0 .6rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: .8rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; }
.card .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; }
.card .value { font-size: 1.5rem; font-weight: 600; margin-top: .2rem; }
.card .sub { color: var(--muted); font-size: .8rem; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { text-align: left; padding: .45rem .6rem; border-bottom: 1px solid var(--line); vertical-align: middle; }
th { color: var(--muted); font-weight: 500; font-size: .8rem; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px/1.3 ui-monospace, SFMono-Regular, Menlo, monospace; }
.badge { display: inline-block; padding: .05rem .45rem; border-radius: 999px; font-size: .78rem; border: 1px solid currentColor; }
.s-completed { color: var(--ok); } .s-failed, .s-expired, .s-cancelled, .s-not_found { color: var(--bad); }
.s-live { color: var(--warn); } .s-open { color: var(--bad); font-weight: 600; } .s-closed { color: var(--ok); }
.empty { color: var(--muted); padding: .8rem; background: var(--card); border: 1px dashed var(--line); border-radius: 8px; }
.flash { padding: .6rem .9rem; border-radius: 6px; background: var(--card); border: 1px solid var(--ok); margin-bottom: 1rem; }
.flash.error { border-color: var(--bad); }
button { font: inherit; padding: .25rem .7rem; border-radius: 6px; border: 1px solid var(--accent); color: var(--accent);
  background: transparent; cursor: pointer; }
button:hover { background: var(--accent); color: #fff; }
form.inline { display: inline; margin: 0; }
.login { max-width: 360px; margin: 12vh auto; background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.5rem; }
.login input { width: 100%; padding: .5rem; margin: .6rem 0 1rem; font: inherit; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg); }
.muted { color: var(--muted); }
`;

/** No script, no frames, forms post to this origin only. */
export const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${title}</title><style>${raw(STYLE)}</style></head>
<body>${body}</body></html>`.html;
}

export interface PageContext {
  /** Where the router is mounted, e.g. `/admin`. */
  base: string;
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
}

export function renderOverviewPage(o: Overview, ctx: PageContext): string {
  const queueTotal = (kind: keyof Overview['queues'], states: string[]) =>
    states.reduce((n, s) => n + (o.queues[kind][s] ?? 0), 0);
  const body = html`
<header><h1>batchbridge · operator</h1>
<nav><a href="${ctx.base}/">Overview</a><a href="${ctx.base}/queues/">Queues</a>
<form class="inline" method="post" action="${ctx.base}/logout"><button type="submit">Log out</button></form></nav></header>
<main>
${ctx.flash ? html`<div class="flash ${ctx.flash.kind === 'error' ? 'error' : ''}" role="status">${ctx.flash.text}</div>` : ''}
<section class="cards">
  <div class="card" id="savings-total"><div class="label">Estimated savings</div>
    <div class="value">${usd(o.savings.totalUsd)}</div>
    <div class="sub">vs realtime prices, from the price table</div></div>
  <div class="card"><div class="label">Requests in flight</div>
    <div class="value">${o.requests.queued + o.requests.batched + o.requests.submitted}</div>
    <div class="sub">${o.requests.queued} queued · ${o.requests.batched} batched · ${o.requests.submitted} submitted</div></div>
  <div class="card"><div class="label">Dead letters</div><div class="value">${o.deadLetterTotal}</div>
    <div class="sub">outcomes awaiting a redeliver</div></div>
  <div class="card"><div class="label">Queue jobs waiting</div>
    <div class="value">${queueTotal('flush', ['waiting', 'delayed']) + queueTotal('poll', ['waiting', 'delayed']) + queueTotal('deliver', ['waiting', 'delayed'])}</div>
    <div class="sub">flush ${queueTotal('flush', ['waiting', 'delayed', 'active'])} · poll ${queueTotal('poll', ['waiting', 'delayed', 'active'])} · deliver ${queueTotal('deliver', ['waiting', 'delayed', 'active'])} · failed ${queueTotal('flush', ['failed']) + queueTotal('poll', ['failed']) + queueTotal('deliver', ['failed'])}</div></div>
</section>

<h2>Providers</h2>
${o.providers.length === 0 ? html`<div class="empty">No provider is configured.</div>` : providersTable(o.providers)}

<h2>Recent batches</h2>
${o.batches.length === 0 ? html`<div class="empty">No batches yet.</div>` : batchesTable(o.batches)}

<h2>Dead letters</h2>
${o.deadLetters.length === 0 ? html`<div class="empty">No dead letters: every outcome was delivered or is still being tried.</div>` : deadTable(o.deadLetters, ctx.base)}

<h2>Unhealthy endpoints</h2>
${o.endpoints.length === 0 ? html`<div class="empty">Every callback host answers: no circuit open, none disabled.</div>` : endpointsTable(o.endpoints, ctx.base)}

<h2>Deadlines by lane</h2>
${
  o.deadlines.length === 0
    ? html`<div class="empty">No request with a deadline has finished yet (X-Deadline, deadline, default_deadline).</div>`
    : html`<table id="deadlines"><thead><tr><th>Lane</th><th>Provider</th><th>Model</th><th class="num">Met</th><th class="num">Missed</th></tr></thead><tbody>
${o.deadlines.map((d) => html`<tr><td>${d.lane}</td><td><code>${d.provider}</code></td><td><code>${d.model}</code></td><td class="num">${int(d.met)}</td><td class="num">${int(d.missed)}</td></tr>`)}
</tbody></table>`
}

<h2>Batches cancelled to meet deadlines</h2>
${
  o.escalations.length === 0
    ? html`<div class="empty">No live batch was cancelled to meet deadlines (ESCALATE_CANCEL_BATCHES is ${o.escalateEnabled ? 'on' : 'off'}).</div>`
    : html`<table id="escalations"><thead><tr><th>Provider</th><th class="num">Cancels asked</th><th class="num">Refused</th><th class="num">Errors</th><th class="num">Requests to flex</th><th class="num">Requests to realtime</th></tr></thead><tbody>
${o.escalations.map((e) => html`<tr><td><code>${e.provider}</code></td><td class="num">${int(e.cancels.requested)}</td><td class="num">${int(e.cancels.refused)}</td><td class="num">${int(e.cancels.error)}</td><td class="num">${int(e.requests.flex)}</td><td class="num">${int(e.requests.realtime)}</td></tr>`)}
</tbody></table>`
}

<h2>Cost by tenant, this month (UTC)</h2>
${
  o.tenants.every((t) => t.requests === 0)
    ? html`<div class="empty">No answered request billed this month yet.</div>`
    : html`<table id="tenant-costs"><thead><tr><th>Tenant</th><th class="num">Requests</th><th class="num">Unpriced</th><th class="num">Cost</th><th class="num">At realtime</th><th class="num">Saved</th><th class="num">Monthly budget</th></tr></thead><tbody>
${o.tenants.map((t) => html`<tr><td><code>${t.tenant}</code></td><td class="num">${int(t.requests)}</td><td class="num">${int(t.unpricedRequests)}</td><td class="num">${usd(t.usd)}</td><td class="num">${usd(t.realtimeUsd)}</td><td class="num">${usd(t.savedUsd)}</td><td class="num">${t.monthlyBudgetUsd === undefined ? '—' : `${usd(t.monthlyBudgetUsd)} (${Math.round((t.usd / t.monthlyBudgetUsd) * 100)} %)`}</td></tr>`)}
</tbody></table>
<p class="muted">Per day and model: <code>${ctx.base}/tenants/&lt;id&gt;/usage.json?from=YYYY-MM-DD&amp;to=YYYY-MM-DD&amp;group_by=model</code>.</p>`
}

<h2>Estimated savings by model</h2>
${
  o.savings.models.length === 0
    ? html`<div class="empty">Nothing saved yet: savings are counted as completed results come back.</div>`
    : html`<table id="savings"><thead><tr><th>Model</th><th class="num">Input tokens</th><th class="num">Output tokens</th><th class="num">Saved</th></tr></thead><tbody>
${o.savings.models.map((m) => html`<tr><td><code>${m.model}</code></td><td class="num">${int(m.inputTokens)}</td><td class="num">${int(m.outputTokens)}</td><td class="num">${usd(m.usd)}</td></tr>`)}
</tbody></table>`
}
<p class="muted">Generated ${iso(o.generatedAt)} · savings = tokens × (realtime − batch price), PRICE_TABLE_FILE or built-in list prices.</p>
</main>`;
  return layout('batchbridge · operator', body);
}

function providersTable(rows: ProviderRow[]): SafeHtml {
  const failures = (f: Record<string, number>) =>
    Object.entries(f)
      .filter(([, n]) => n > 0)
      .map(([op, n]) => `${op} ${n}`)
      .join(' · ') || '–';
  return html`<table id="providers"><thead><tr><th>Provider</th><th>Profile</th><th>Circuit</th><th>Opened by</th>
<th>Failures in a row</th><th>Next probe</th><th class="num">Times opened</th><th class="num">Priority</th><th>Last failure</th></tr></thead><tbody>
${rows.map(
  (
    p,
  ) => html`<tr data-provider="${p.id}"><td>${p.id}</td><td>${p.profile}</td><td class="s-${p.state}">${p.state}</td><td>${p.openedBy ?? '–'}</td>
<td>${failures(p.failures)}</td><td>${p.probeAt ? iso(p.probeAt) : '–'}</td><td class="num">${p.opened}</td><td class="num">${p.priority}</td>
<td>${p.lastFailure ? html`${p.lastFailure}${p.lastFailureAt ? html` <span class="muted">(${iso(p.lastFailureAt)})</span>` : ''}` : '–'}</td></tr>`,
)}
</tbody></table>`;
}

function batchesTable(rows: BatchRow[]): SafeHtml {
  return html`<table id="batches"><thead><tr><th>Submitted</th><th>Provider batch</th><th>Model</th><th>Status</th>
<th class="num">Requests</th><th class="num">Completed</th><th class="num">Failed</th><th class="num">Retried</th>
<th>Flush reason</th><th class="num">Bytes</th><th>Flush</th><th>Input file</th></tr></thead><tbody>
${rows.map(
  (
    b,
  ) => html`<tr data-batch="${b.id}"><td>${iso(b.submittedAt)}</td><td><code>${b.id}</code></td><td><code>${b.model}</code></td>
<td><span class="badge s-${b.live ? 'live' : b.status}">${b.live ? `live · ${b.status}` : b.status}</span></td>
<td class="num">${b.requests}</td><td class="num">${b.outcomes?.completed ?? '–'}</td><td class="num">${b.outcomes?.failed ?? '–'}</td>
<td class="num">${b.outcomes?.retried ?? '–'}</td><td>${b.reason ?? '–'}</td><td class="num">${b.bytes === undefined ? '–' : int(b.bytes)}</td>
<td><code>${b.flushId}</code></td><td><code>${b.fileId ?? '–'}</code></td></tr>`,
)}
</tbody></table>`;
}

function deadTable(rows: DeadLetterRow[], base: string): SafeHtml {
  return html`<table id="dead-letters"><thead><tr><th>Request</th><th>Tenant</th><th>Outcome</th><th>Model</th><th>Batch</th>
<th>Callback host</th><th>Finished</th><th>Why</th><th></th></tr></thead><tbody>
${rows.map(
  (d) => html`<tr data-request="${d.id}"><td><code>${d.id}</code></td><td>${d.tenant}</td>
<td><span class="badge s-${d.status}">${d.status}</span>${d.errorCode ? html` <code>${d.errorCode}</code>` : ''}</td>
<td><code>${d.model}</code></td><td><code>${d.batchId ?? '–'}</code></td><td>${d.callbackHost ?? '–'}</td>
<td>${d.completedAt ? iso(d.completedAt) : '–'}</td><td>${d.reason ?? 'exhausted'} · <a href="${base}/requests/${d.id}/deliveries">attempts</a></td>
<td><form class="inline" method="post" action="${base}/requests/${d.id}/redeliver"><button type="submit">Redeliver</button></form></td></tr>`,
)}
</tbody></table>`;
}

function endpointsTable(rows: EndpointRow[], base: string): SafeHtml {
  return html`<table id="endpoints"><thead><tr><th>Tenant</th><th>Host</th><th>State</th><th class="num">Failures in a row</th>
<th>Failing since</th><th>Last error</th><th></th></tr></thead><tbody>
${rows.map(
  (e) => html`<tr data-endpoint="${e.tenant} ${e.host}"><td>${e.tenant}</td><td><code>${e.host}</code></td>
<td><span class="badge s-${e.state === 'disabled' ? 'failed' : 'live'}">${e.state}</span></td><td class="num">${e.fails}</td>
<td>${iso(e.failingSince)}</td><td>${e.lastError ?? '–'}</td>
<td><form class="inline" method="post" action="${base}/endpoints/enable"><input type="hidden" name="tenant" value="${e.tenant}"><input type="hidden" name="host" value="${e.host}"><button type="submit">Re-enable</button></form></td></tr>`,
)}
</tbody></table>`;
}

/** One outcome's delivery log (SPEC §16), oldest attempt first. */
export function renderDeliveriesPage(
  base: string,
  requestId: string,
  state: string,
  reason: string | undefined,
  attempts: readonly DeliveryAttempt[],
): string {
  const body = html`
<header><h1>batchbridge · operator</h1><nav><a href="${base}/">Overview</a></nav></header>
<main>
<h2>Delivery attempts of <code>${requestId}</code></h2>
<p>Delivery: <span class="badge s-${state}">${state}</span>${reason ? html` <code>${reason}</code>` : ''}</p>
${
  attempts.length === 0
    ? html`<div class="empty">No attempt yet.</div>`
    : html`<table id="deliveries"><thead><tr><th class="num">Attempt</th><th>At</th><th class="num">HTTP status</th><th>Error</th><th class="num">Duration (ms)</th><th>Next attempt</th></tr></thead><tbody>
${attempts.map(
  (
    a,
  ) => html`<tr><td class="num">${a.attempt}</td><td>${a.at}</td><td class="num">${a.status_code === null ? '–' : String(a.status_code)}</td>
<td>${a.error ?? '–'}</td><td class="num">${a.duration_ms}</td><td>${a.next_attempt_at ?? '–'}</td></tr>`,
)}
</tbody></table>`
}
<form class="inline" method="post" action="${base}/requests/${requestId}/redeliver"><button type="submit">Redeliver</button></form>
</main>`;
  return layout('batchbridge · delivery attempts', body);
}

export function renderLoginPage(base: string, error?: string): string {
  return layout(
    'batchbridge · operator login',
    html`<form class="login" method="post" action="${base}/login">
<h1>batchbridge operator</h1>
${error ? html`<div class="flash error" role="alert">${error}</div>` : ''}
<label for="key">Admin key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button>
<p class="muted">The key is ADMIN_KEY of this deployment.</p></form>`,
  );
}

function usd(n: number): string {
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: n < 1 ? 6 : 2 })}`;
}

function int(n: number): string {
  return n.toLocaleString('en-US');
}

function iso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
