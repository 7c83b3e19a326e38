/**
 * The savings ledger: estimated savings per model (price table × tokens of completed results), summed across all
 * pollers in one global hash (`G:savings`), for the operator page.
 */
import type { StoreContext } from './store-context.js';

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
