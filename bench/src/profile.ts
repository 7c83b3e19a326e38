/**
 * Summarises V8 CPU profiles (`node --cpu-prof`) of a service: self time by package (a dependency under
 * node_modules, a workspace package, node internals, GC) and the hottest functions — the "what limits it" of a target
 * not met.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileSummary {
  totalMs: number;
  byPackage: Array<{ name: string; percent: number }>;
  topFunctions: Array<{ name: string; percent: number }>;
}

function packageOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)' || fn === '(program)') return fn;
  if (!url) return '(native / V8)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const ws = /\/(packages|services|bench)\/([^/]+)\//.exec(url);
  if (ws) return `@batchbridge/${ws[2]}`;
  if (url.startsWith('node:')) return 'node internals';
  return url;
}

function shortFn(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.split('/').slice(-1)[0] ?? '';
  return `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
}

export function summarizeProfile(path: string, top = 10): ProfileSummary {
  const prof = JSON.parse(readFileSync(path, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number };
  const total = prof.nodes.reduce((n, x) => n + (x.hitCount ?? 0), 0) || 1;
  const idle = prof.nodes
    .filter((x) => x.callFrame.functionName === '(idle)')
    .reduce((n, x) => n + (x.hitCount ?? 0), 0);
  const busy = Math.max(1, total - idle);
  const pkg = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const node of prof.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0 || node.callFrame.functionName === '(idle)') continue;
    const p = packageOf(node.callFrame.url, node.callFrame.functionName);
    pkg.set(p, (pkg.get(p) ?? 0) + hits);
    const f = shortFn(node);
    fns.set(f, (fns.get(f) ?? 0) + hits);
  }
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({ name, percent: Math.round((hits / busy) * 1000) / 10 }));
  return { totalMs: (prof.endTime - prof.startTime) / 1000, byPackage: rank(pkg), topFunctions: rank(fns) };
}

/** The largest profile in a directory (the one that covers the measured run), or undefined. */
export function profileIn(dir: string): string | undefined {
  try {
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    const sized = files.map((f) => ({ f, size: readFileSync(join(dir, f)).length }));
    sized.sort((a, b) => b.size - a.size);
    return sized[0] ? join(dir, sized[0].f) : undefined;
  } catch {
    return undefined;
  }
}

export function profileMarkdown(service: string, s: ProfileSummary): string {
  return [
    `CPU profile of the ${service} process (V8 \`--cpu-prof\`, ${Math.round(s.totalMs / 1000)} s, share of busy time):`,
    '',
    `- by package: ${s.byPackage.map((p) => `${p.name} ${p.percent} %`).join(', ')}`,
    `- hottest functions (self time): ${s.topFunctions.map((p) => `\`${p.name}\` ${p.percent} %`).join(', ')}`,
  ].join('\n');
}
