/** Progress output for long runs: two bars on a terminal, a line every few seconds otherwise (CI logs). */
import cliProgress from 'cli-progress';

export interface Progress {
  update(accepted: number, delivered: number): void;
  stop(): void;
}

export function createProgress(total: number, out: NodeJS.WriteStream = process.stdout): Progress {
  if (out.isTTY) {
    const bars = new cliProgress.MultiBar(
      { format: '  {label} |{bar}| {value}/{total}', hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    const accepted = bars.create(total, 0, { label: 'accepted ' });
    const delivered = bars.create(total, 0, { label: 'delivered' });
    return {
      update: (a, d) => {
        accepted.update(a);
        delivered.update(d);
      },
      stop: () => bars.stop(),
    };
  }
  let last = 0;
  return {
    update: (a, d) => {
      if (Date.now() - last < 2_000) return;
      last = Date.now();
      out.write(`  accepted ${a}/${total}, delivered ${d}/${total}\n`);
    },
    stop: () => undefined,
  };
}
