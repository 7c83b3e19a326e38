/**
 * Structured outputs (SPEC §14): each answer of a request that asked for a JSON schema is parsed and validated against
 * it (ajv, JSON Schema 2020-12 as OpenAI's structured outputs take it). A schema is compiled once per hash of its text,
 * and the compiled validators are bounded (least recently used out), so a flood of distinct schemas costs memory once.
 */
import { createHash } from 'node:crypto';
import type { AnswerText } from '@batchbridge/domain';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

/** The answer follows its schema, or why not (kept in the request's error message). */
export type SchemaVerdict = { ok: true } | { ok: false; message: string };

export class SchemaChecker {
  readonly #ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });
  /** By schema hash; insertion order is use order (a hit is moved to the end). */
  readonly #compiled = new Map<string, ValidateFunction | { broken: string }>();

  constructor(private readonly maxSchemas = 500) {}

  /** How many compiled schemas are held (tests). */
  get size(): number {
    return this.#compiled.size;
  }

  check(schemaText: string, answer: AnswerText): SchemaVerdict {
    const validate = this.#validator(schemaText);
    // A schema ajv cannot compile cannot judge an answer: the provider took it, so its answer stands.
    if ('broken' in validate) return { ok: true };
    if (answer.text === undefined) return { ok: false, message: 'schema_validation_failed: the answer has no text' };
    let value: unknown;
    try {
      value = JSON.parse(answer.text);
    } catch {
      const cut = answer.truncated ? ' (cut off: finish_reason length)' : '';
      return { ok: false, message: `schema_validation_failed: the answer is not JSON${cut}` };
    }
    if (validate(value)) return { ok: true };
    const e = validate.errors?.[0];
    const where = e?.instancePath ? `${e.instancePath} ` : '';
    return { ok: false, message: `schema_validation_failed: ${where}${e?.message ?? 'does not match'}`.slice(0, 500) };
  }

  #validator(schemaText: string): ValidateFunction | { broken: string } {
    const hash = createHash('sha256').update(schemaText).digest('base64url');
    const known = this.#compiled.get(hash);
    if (known) {
      this.#compiled.delete(hash);
      this.#compiled.set(hash, known);
      return known;
    }
    let compiled: ValidateFunction | { broken: string };
    try {
      compiled = this.#ajv.compile(JSON.parse(schemaText) as object);
    } catch (err) {
      compiled = { broken: (err as Error).message };
    }
    // ajv keeps its own reference to every schema it compiled: drop it, the map here is the cache.
    this.#ajv.removeSchema();
    if (this.#compiled.size >= this.maxSchemas) {
      const oldest = this.#compiled.keys().next().value;
      if (oldest !== undefined) this.#compiled.delete(oldest);
    }
    this.#compiled.set(hash, compiled);
    return compiled;
  }
}
