/**
 * A tiny hand-written SVG line chart: linear x, linear or log10 y, one polyline with markers per series, a legend and an
 * optional horizontal target line. Enough for the two plots of the report, with no dependency and deterministic output.
 */

export interface Series {
  name: string;
  points: ReadonlyArray<{ x: number; y: number }>;
  /** Draw without point markers (long time series). */
  noMarkers?: boolean;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  hLine?: { y: number; label: string };
  logY?: boolean;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** About `count` round tick values covering [min, max]. */
function niceTicks(min: number, max: number, count = 6): number[] {
  if (max <= min) max = min + 1;
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  if (Math.abs(v) >= 10_000) return `${Math.round(v / 1000)}k`;
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US');
  return String(Number(v.toPrecision(3)));
}

export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 760;
  const H = o.height ?? 420;
  const m = { l: 70, r: 20, t: 40, b: 90 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const pts = o.series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = pts.map((p) => p.x);
  let ys = pts.map((p) => p.y);
  if (o.hLine) ys = [...ys, o.hLine.y];
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(1, ...xs);
  let yTicks: number[];
  let yOf: (y: number) => number;
  if (o.logY) {
    const pos = ys.filter((y) => y > 0);
    const lo = Math.floor(Math.log10(Math.min(1, ...pos)));
    const hi = Math.ceil(Math.log10(Math.max(10, ...pos)));
    yTicks = [];
    for (let e = lo; e <= hi; e++) yTicks.push(10 ** e);
    yOf = (y) => m.t + ph - ((Math.log10(Math.max(y, 10 ** lo)) - lo) / (hi - lo)) * ph;
  } else {
    yTicks = niceTicks(0, Math.max(1, ...ys) * 1.05);
    const top = yTicks[yTicks.length - 1] as number;
    yOf = (y) => m.t + ph - (y / top) * ph;
  }
  const xTicks = niceTicks(xMin, xMax);
  const xTop = Math.max(xMax, xTicks[xTicks.length - 1] as number);
  const xOf = (x: number) => m.l + ((x - xMin) / (xTop - xMin)) * pw;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`,
  );
  for (const t of yTicks) {
    const y = yOf(t);
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${m.l - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = xOf(t);
    out.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#f0f0f0"/>`,
      `<text x="${x.toFixed(1)}" y="${m.t + ph + 16}" text-anchor="middle">${label(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.l + pw / 2}" y="${m.t + ph + 36}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text x="16" y="${m.t + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.t + ph / 2})">${esc(o.yLabel)}${o.logY ? ' (log scale)' : ''}</text>`,
  );
  if (o.hLine) {
    const y = yOf(o.hLine.y).toFixed(1);
    out.push(
      `<line x1="${m.l}" x2="${m.l + pw}" y1="${y}" y2="${y}" stroke="#999" stroke-dasharray="6 4"/>`,
      `<text x="${m.l + pw - 4}" y="${Number(y) - 5}" text-anchor="end" fill="#666">${esc(o.hLine.label)}</text>`,
    );
  }
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const dash = s.name.includes('baseline') || s.name.includes('direct') ? ' stroke-dasharray="5 3"' : '';
    const path = s.points
      .filter((p) => Number.isFinite(p.y))
      .map((p) => `${xOf(p.x).toFixed(1)},${yOf(p.y).toFixed(1)}`)
      .join(' ');
    out.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    if (!s.noMarkers) {
      for (const p of s.points) {
        if (Number.isFinite(p.y))
          out.push(`<circle cx="${xOf(p.x).toFixed(1)}" cy="${yOf(p.y).toFixed(1)}" r="3" fill="${color}"/>`);
      }
    }
    const lx = m.l + (i % 3) * (pw / 3);
    const ly = H - 30 + Math.floor(i / 3) * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 24}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${lx + 30}" y="${ly}">${esc(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
