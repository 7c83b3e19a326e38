/**
 * The simulator's embedding "model": a pure, documented function from an embeddings request to its vectors, so that a
 * test can recompute the vector a request must have received and prove that vector X belongs to input X.
 *
 * Vector of one input: the first `dimensions` numbers of a stream seeded by SHA-256 over `<model>\n<JSON of the
 * input>` (the string, or the token array), each uniform in [-1, 1), scaled to unit length and rounded to float32.
 * Since a shorter vector is a prefix of the same stream, renormalised, `dimensions` works like OpenAI's shortened
 * `text-embedding-3` vectors. `encoding_format: "base64"` sends the float32 values little-endian, base64-encoded, as
 * OpenAI does; the float form carries the same float32 values written as OpenAI writes them (7–9 significant digits,
 * see `float32Json`), so `Math.fround` of each number read from it is the float32 value.
 * Usage: `prompt_tokens = total_tokens =` the sum over inputs of `ceil(chars / 4)` (a string) or its length (tokens).
 *
 * The answer is produced as JSON chunks, one per vector: a request with 2 048 inputs of 3 072 dimensions is well over
 * 100 MB of JSON, and is never held in one string.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { estimateTokens } from './completion.js';

/** Native vector length per embedding model; other models get `DEFAULT_EMBEDDING_DIMENSIONS`. */
export const EMBEDDING_DIMENSIONS: Readonly<Record<string, number>> = {
  'text-embedding-3-small': 1536,
  'text-embedding-3-large': 3072,
  'text-embedding-ada-002': 1536,
};

export const DEFAULT_EMBEDDING_DIMENSIONS = 1536;

/** Models whose vectors cannot be shortened (OpenAI: `dimensions` is for `text-embedding-3` and later). */
const FIXED_DIMENSION_MODELS: ReadonlySet<string> = new Set(['text-embedding-ada-002']);

const MAX_INPUTS = 2048;

/**
 * The embeddings request as the simulator checks it: the OpenAPI document's `CreateEmbeddingRequest` (strict: it
 * allows no other parameter), and no empty string, which OpenAI refuses although the document does not say so.
 */
export const embeddingsBodySchema = z.strictObject({
  model: z.string().min(1),
  input: z.union([
    z.string().min(1),
    z.array(z.string().min(1)).min(1).max(MAX_INPUTS),
    z.array(z.number().int()).min(1).max(MAX_INPUTS),
    z.array(z.array(z.number().int()).min(1)).min(1).max(MAX_INPUTS),
  ]),
  encoding_format: z.enum(['float', 'base64']).optional(),
  dimensions: z.number().int().min(1).optional(),
  user: z.string().optional(),
});

export type EmbeddingsBody = z.output<typeof embeddingsBodySchema>;

/** The part of an embeddings request the simulator reads. */
export interface SimEmbeddingsRequest {
  model: string;
  input: string | readonly string[] | readonly number[] | readonly (readonly number[])[];
  encoding_format?: 'float' | 'base64' | undefined;
  dimensions?: number | undefined;
}

/** One input of a request: a string or a token array. */
export type EmbeddingInput = string | readonly number[];

/** The inputs of a request, one per vector answered. */
export function embeddingInputs(input: SimEmbeddingsRequest['input']): EmbeddingInput[] {
  if (typeof input === 'string') return [input];
  if (input.length > 0 && typeof input[0] === 'number') return [input as readonly number[]];
  return [...(input as readonly EmbeddingInput[])];
}

/** How many inputs (vectors) a request body holds; 0 when it has none the simulator can read. */
export function embeddingInputCount(body: Record<string, unknown>): number {
  const input = body.input;
  if (typeof input === 'string') return 1;
  if (!Array.isArray(input)) return 0;
  return input.length > 0 && typeof input[0] === 'number' ? 1 : input.length;
}

/** The vector length a request gets: its `dimensions`, else the model's native length. */
export function embeddingDimensions(body: Pick<SimEmbeddingsRequest, 'model' | 'dimensions'>): number {
  return body.dimensions ?? EMBEDDING_DIMENSIONS[body.model] ?? DEFAULT_EMBEDDING_DIMENSIONS;
}

/** Why the simulator refuses a request's `dimensions`, as OpenAI would, or null. */
export function embeddingDimensionsProblem(body: Pick<SimEmbeddingsRequest, 'model' | 'dimensions'>): string | null {
  if (body.dimensions === undefined) return null;
  if (FIXED_DIMENSION_MODELS.has(body.model)) return 'This model does not support specifying dimensions.';
  const native = EMBEDDING_DIMENSIONS[body.model] ?? DEFAULT_EMBEDDING_DIMENSIONS;
  if (body.dimensions > native) {
    return `This model's maximum number of dimensions is ${native}; ${body.dimensions} were requested.`;
  }
  return null;
}

/** sfc32, seeded with 128 bits of the SHA-256: a stream of numbers in [0, 1). */
function seededStream(seed: Buffer): () => number {
  let a = seed.readUInt32LE(0);
  let b = seed.readUInt32LE(4);
  let c = seed.readUInt32LE(8);
  let d = seed.readUInt32LE(12);
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

/** The unit vector (float32 values) of one input: see the module comment. */
export function simulatedEmbedding(model: string, input: EmbeddingInput, dimensions: number): Float32Array {
  const seed = createHash('sha256')
    .update(`${model}\n${JSON.stringify(input)}`)
    .digest();
  const next = seededStream(seed);
  const raw = new Float64Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const v = next() * 2 - 1;
    raw[i] = v;
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  const out = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) out[i] = (raw[i] as number) * scale;
  return out;
}

/** float32 values as OpenAI's `base64` encoding sends them: little-endian bytes, base64. */
export function float32ToBase64(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  for (let i = 0; i < vector.length; i++) bytes.writeFloatLE(vector[i] as number, i * 4);
  return bytes.toString('base64');
}

/**
 * One float32 value as JSON, the way OpenAI writes them (`0.0023064255`, `-0.009327292`): the shortest of 7, 8 or 9
 * significant digits that reads back as the same float32 (9 always does), not the 17 digits of the value as a double.
 */
export function float32Json(v: number): string {
  const a = Math.abs(v);
  // The common case by integer arithmetic (toPrecision is three times slower); tiny, huge or odd values by toPrecision.
  if (a >= 1e-6 && a < 1e9) {
    const e = Math.floor(Math.log10(a));
    for (let digits = 7; digits <= 9; digits++) {
      const k = digits - 1 - e;
      if (k < 0) break;
      const m = Math.round(a * POW10[k]!);
      if (Math.fround(m / POW10[k]!) === a) return (v < 0 ? '-' : '') + decimal(m, k);
    }
  }
  for (let digits = 7; digits < 9; digits++) {
    const n = Number(v.toPrecision(digits));
    if (Math.fround(n) === v) return String(n);
  }
  return String(Number(v.toPrecision(9)));
}

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** `m / 10^k` written out (m > 0), trailing zeros dropped: what `String()` gives for such a number. */
function decimal(m: number, k: number): string {
  while (k > 0 && m % 10 === 0) {
    m /= 10;
    k--;
  }
  const digits = String(m);
  if (k === 0) return digits;
  if (digits.length > k) return `${digits.slice(0, digits.length - k)}.${digits.slice(digits.length - k)}`;
  return `0.${'0'.repeat(k - digits.length)}${digits}`;
}

/** A float32 vector as a JSON array (see `float32Json`). */
export function float32ListJson(vector: Float32Array): string {
  let out = '[';
  for (let i = 0; i < vector.length; i++) out += (i === 0 ? '' : ',') + float32Json(vector[i] as number);
  return `${out}]`;
}

/** Prompt tokens of one input. */
function inputTokens(input: EmbeddingInput): number {
  return typeof input === 'string' ? estimateTokens(input) : input.length;
}

/** Prompt tokens of a request: the sum over its inputs. */
export function embeddingsPromptTokens(body: Pick<SimEmbeddingsRequest, 'input'>): number {
  return embeddingInputs(body.input).reduce((sum, input) => sum + inputTokens(input), 0);
}

/** The embedding list object as OpenAI returns it. */
export interface SimEmbeddingsResponse {
  object: 'list';
  data: { object: 'embedding'; index: number; embedding: number[] | string }[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}

/**
 * The answer to an embeddings request as JSON text, in chunks (one per vector). Concatenated they are exactly
 * `JSON.stringify(simulatedEmbeddings(body))`.
 */
export function* simulatedEmbeddingsJson(body: SimEmbeddingsRequest): Generator<string> {
  const dimensions = embeddingDimensions(body);
  const base64 = body.encoding_format === 'base64';
  yield '{"object":"list","data":[';
  let index = 0;
  for (const input of embeddingInputs(body.input)) {
    const vector = simulatedEmbedding(body.model, input, dimensions);
    const embedding = base64 ? JSON.stringify(float32ToBase64(vector)) : float32ListJson(vector);
    yield `${index === 0 ? '' : ','}{"object":"embedding","index":${index},"embedding":${embedding}}`;
    index++;
  }
  const tokens = embeddingsPromptTokens(body);
  yield `],"model":${JSON.stringify(body.model)},"usage":{"prompt_tokens":${tokens},"total_tokens":${tokens}}}`;
}

/** The whole answer as one object: for tests and small requests (the simulator itself streams the chunks). */
export function simulatedEmbeddings(body: SimEmbeddingsRequest): SimEmbeddingsResponse {
  return JSON.parse([...simulatedEmbeddingsJson(body)].join('')) as SimEmbeddingsResponse;
}
