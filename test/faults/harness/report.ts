/** The fault run's table: printed at the end of the run and written into its section of docs/reliability.md. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { RunReport } from './run.js';

/** The checks that must all be zero, with how they are measured. */
export function failures(report: RunReport): Record<string, number> {
  const r = report.result;
  return {
    lost: r.lost,
    duplicated: r.duplicated,
    unexpected: r.unexpected,
    stuck: r.stuck,
    'wrong-tenant deliveries': r.wrongTenant,
    'deliveries failing signature verification': r.unverified,
    'webhook type not matching the final status': r.wrongOutcome,
    'second provider batch for one flush': r.secondBatchForFlush,
    'poison requests not failed': r.poisonNotFailed,
    'requests failed by a poison request beside them': r.innocentFailed,
    'waiting clients answered with another completion': r.waitedWrong,
    'redirects followed': r.redirectsFollowed,
    'retries after a 410': r.goneRetried,
    'requests the client could not get accepted': r.abandoned,
    'secrets or prompt text in log lines': Object.values(report.logs.hits).reduce((a, b) => a + b, 0),
    'SIGTERM drains with work left active or a non-zero exit': report.drills.filter(
      (d) => d.leftActive > 0 || d.exitCode !== 0,
    ).length,
    'services that died on their own': report.unexpectedExits.length,
    'not settled within the timeout': report.settled ? 0 : 1,
    // SPEC §15: a cost counted twice (a replayed settle) or lost (billed without its record, or the reverse).
    'ledger requests not matching the billed request records': Math.abs(
      report.ledger.ledgerRequests - report.ledger.billedRecords,
    ),
    'ledger nano-USD not matching the request records': Math.abs(report.ledger.ledgerNano - report.ledger.recordsNano),
  };
}

export function renderReport(report: RunReport): string {
  const r = report.result;
  const p = report.profile;
  const kills = Object.entries(report.faults)
    .filter(([k]) => k.startsWith('SIGKILL'))
    .reduce((sum, [, n]) => sum + n, 0);
  const failed = Object.entries(failures(report)).filter(([, n]) => n > 0);
  const lines: string[] = [];
  lines.push(
    `**${failed.length === 0 ? 'PASS' : 'FAIL'}** — profile \`${p.name}\`, seed \`${p.seed}\`, run ${report.startedAt.toISOString()}, ` +
      `${Math.round(report.durationMs / 1000)} s in all (chaos ${Math.round(p.chaosMs / 1000)} s, settled in ` +
      `${Math.round(report.settleMs / 1000)} s).`,
    '',
    '| Result | Count |',
    '| --- | ---: |',
    `| requests submitted | ${r.requests} |`,
    `| accepted (202, or 200 replay of a 202 lost to a fault) | ${r.accepted} |`,
    `| — of which recovered by an idempotent replay | ${r.recoveredByReplay} |`,
    `| final status | ${Object.entries(r.byStatus)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')} |`,
    `| poison requests (whole batch file failed, with / without its line named) | ${r.poison} |`,
    `| waiting clients (Prefer: wait), answered with the completion in the response | ${r.waited}, ${r.waitedAnswered} |`,
    `| failed with no refusal of their own: MAX_ATTEMPTS used up by the run's faults (allowed) | ${r.exhaustedByFaults} |`,
    `| outcomes delivered (receiver answered 2xx) | ${r.outcomesDelivered} |`,
    `| billed records / ledger requests (SPEC §15), USD | ${report.ledger.billedRecords} / ${report.ledger.ledgerRequests}, ${(report.ledger.recordsNano / 1e9).toFixed(6)} / ${(report.ledger.ledgerNano / 1e9).toFixed(6)} |`,
    `| webhook attempts received | ${r.deliveries} |`,
    `| SIGKILLs in all | ${kills} |`,
    `| **lost** | **${r.lost}** |`,
    `| lost, acknowledged < 1 s before a Redis SIGKILL (allowed by AOF everysec) | ${r.lostInAofWindow} |`,
    `| **duplicated** (two webhook-ids or bodies for one request, or answered by two provider batches) | **${r.duplicated}** |`,
    `| **unexpected** (delivery for an id never accepted) | **${r.unexpected}** |`,
    `| **stuck** (not terminal after settling) | **${r.stuck}** |`,
    `| **wrong-tenant deliveries** | **${r.wrongTenant}** |`,
    `| sent again after a 410 because the job's completion was lost (same attempt; receivers dedupe) | ${r.goneResent} |`,
  );
  for (const [label, n] of Object.entries(failures(report))) {
    if (['lost', 'duplicated', 'unexpected', 'stuck', 'wrong-tenant deliveries'].includes(label)) continue;
    lines.push(`| ${label} | ${n} |`);
  }
  lines.push('', '| Fault injected | Count |', '| --- | ---: |');
  for (const [label, n] of Object.entries(report.faults).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| ${label} | ${n} |`);
  }
  lines.push(
    `| simulator: calls answered 429 / 5xx | ${report.sim.rateLimited} / ${report.sim.serverErrors} |`,
    `| simulator: batches created, output lines, error lines | ${report.sim.batchesCreated}, ${report.sim.outputLines}, ${report.sim.errorLines} |`,
    `| provider batches by final status | ${Object.entries(report.sim.batchStatuses)
      .map(([s, n]) => `${s} ${n}`)
      .join(', ')} |`,
    `| client: retries, connection errors | ${report.client.retries}, ${report.client.connectionErrors} |`,
    '',
    'Graceful drains (SIGTERM while work was in flight):',
    '',
    '| Service | Exit code | Took | Active jobs before | Left active |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...report.drills.map(
      (d) => `| ${d.service} | ${d.exitCode} | ${(d.ms / 1000).toFixed(1)} s | ${d.activeBefore} | ${d.leftActive} |`,
    ),
    '',
    `Parameters: ${p.requests} requests at most ${p.concurrency} at once over ${Math.round((p.chaosMs * 0.9) / 1000)} s; ` +
      `${p.ingests} ingest-api, ${p.packers} packers, 1 poller, 1 dispatcher, provider simulator (all child processes); ` +
      `${p.redis === 'sentinel' ? 'master + replica + 3 Sentinels, REDIS_DURABILITY=replica' : 'private redis-server with AOF everysec'}; ` +
      `${p.serviceKills} service SIGKILLs planned and ${p.redisKills} Redis ${p.redis === 'sentinel' ? 'master ' : ''}` +
      `SIGKILLs; log lines scanned: ${report.logs.lines} in ${report.logs.files} files.`,
  );
  if (failed.length > 0) {
    lines.push('', 'Failures:', '');
    for (const [label, n] of failed) lines.push(`- ${label}: ${n}`);
    for (const [what, list] of Object.entries(r.examples)) for (const e of list) lines.push(`  - ${what}: ${e}`);
    for (const e of report.logs.examples) lines.push(`  - log: ${e}`);
    for (const e of report.unexpectedExits)
      lines.push(`  - exit: ${e.name} ${e.code ?? e.signal}: ${e.tail.slice(-300)}`);
  }
  return lines.join('\n');
}

/** Replaces the profile's section of docs/reliability.md (between its markers) with this run's table. */
export function writeReliabilityDoc(path: string, report: RunReport): void {
  const begin = `<!-- faults:${report.profile.name}:begin -->`;
  const end = `<!-- faults:${report.profile.name}:end -->`;
  const section = `${begin}\n${renderReport(report)}\n${end}`;
  const doc = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  const next =
    from >= 0 && to > from ? doc.slice(0, from) + section + doc.slice(to + end.length) : `${doc}\n${section}\n`;
  writeFileSync(path, next);
}
