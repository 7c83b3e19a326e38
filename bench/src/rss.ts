/**
 * Samples the resident set size of processes from `/proc/<pid>/status` (VmRSS) every 100 ms — from outside, so the
 * measured process does no extra work. Linux only, which is where the benchmark runs.
 */
import { readFileSync } from 'node:fs';

export interface RssSample {
  t: number;
  mb: number;
}

export class RssSampler {
  readonly samples: RssSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly pid: number,
    intervalMs = 100,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  /** Current RSS in MB (undefined once the process is gone). */
  sample(): number | undefined {
    const mb = readRssMb(this.pid);
    if (mb !== undefined) this.samples.push({ t: Date.now(), mb });
    return mb;
  }

  /** Highest sample at or after `since` (ms epoch). */
  peak(since = 0): number {
    let peak = 0;
    for (const s of this.samples) if (s.t >= since && s.mb > peak) peak = s.mb;
    return peak;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

export function readRssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat` (undefined once it is gone). */
export function readCpuS(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, in parentheses): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
