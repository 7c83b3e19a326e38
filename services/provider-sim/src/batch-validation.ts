/**
 * The validation pass over a batch input file, as providers run it while a batch is `validating`: the file is read as
 * a stream, line by line, and checked for the envelope (`custom_id`, `method`, `url` equal to the batch's endpoint,
 * `body.model` unless the endpoint has a default), duplicates, the profile's model rule and its size limits (lines,
 * bytes, embedding inputs). Bodies themselves are checked later, per line, as providers do.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { estimateTokens } from './completion.js';
import { ENDPOINTS, type SimEndpoint } from './endpoints.js';
import type { BatchErrorItem } from './store.js';

export interface BatchValidationRules {
  endpoint: SimEndpoint;
  models: readonly string[];
  mixedModels: boolean;
  maxLines: number;
  maxBytes: number;
  /** Most embedding inputs across all lines (`/v1/embeddings`). @defaultValue `50000` */
  maxEmbeddingInputs?: number;
  /** Errors reported at most (the count of lines is still exact). @defaultValue `100` */
  maxErrors?: number;
  /** `mistral`: lines are `{custom_id, body}`, `method` and `url` optional. @defaultValue `openai` */
  envelope?: 'openai' | 'mistral';
}

export interface BatchValidationResult {
  /** Non-blank lines. */
  lines: number;
  errors: BatchErrorItem[];
  /** Estimated prompt tokens of all lines (four characters per token). */
  tokens: number;
  /** The model shared by every line, or null when they differ or there is none. */
  model: string | null;
}

const lineSchema = z.object({
  custom_id: z.string().min(1),
  method: z.string(),
  url: z.string(),
  body: z.record(z.string(), z.unknown()),
});
/** Mistral's line: `{custom_id, body}` (the endpoint and the model are the job's). */
const mistralLineSchema = lineSchema.extend({ method: z.string().default('POST'), url: z.string().optional() });

export async function validateBatchInput(
  path: string,
  bytes: number,
  rules: BatchValidationRules,
): Promise<BatchValidationResult> {
  const maxErrors = rules.maxErrors ?? 100;
  const errors: BatchErrorItem[] = [];
  const report = (item: BatchErrorItem) => {
    if (errors.length < maxErrors) errors.push(item);
  };
  if (bytes > rules.maxBytes) {
    report({
      code: 'file_too_large',
      message: `The batch input file is ${bytes} bytes; the limit is ${rules.maxBytes} bytes.`,
      param: null,
      line: null,
    });
    return { lines: 0, errors, tokens: 0, model: null };
  }

  const models = new Set(rules.models);
  const handler = ENDPOINTS[rules.endpoint];
  const maxInputs = rules.maxEmbeddingInputs ?? 50_000;
  let inputs = 0;
  const seen = new Set<string>();
  let lineNumber = 0;
  let lines = 0;
  let tokens = 0;
  let firstModel: string | null = null;
  let mixed = false;
  let poison = false;
  const reader = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const raw of reader) {
    lineNumber++;
    if (raw.trim() === '') continue;
    lines++;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      report({
        code: 'invalid_json_line',
        message: 'This line is not parseable as valid JSON.',
        param: null,
        line: lineNumber,
      });
      continue;
    }
    const parsed = (rules.envelope === 'mistral' ? mistralLineSchema : lineSchema).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const param = issue?.path.join('.') || null;
      const missing = issue?.code === 'invalid_type' && /received undefined/.test(issue.message);
      report({
        code: missing ? 'missing_required_parameter' : 'invalid_request',
        message: missing ? `Missing required parameter: '${param}'.` : `Invalid '${param}': ${issue?.message ?? ''}.`,
        param,
        line: lineNumber,
      });
      continue;
    }
    const line = { ...parsed.data, url: parsed.data.url ?? rules.endpoint };
    if (seen.has(line.custom_id)) {
      report({
        code: 'duplicate_custom_id',
        message:
          'The custom_id for this request is a duplicate of another request. The custom_id parameter must be unique for each request in a batch.',
        param: 'custom_id',
        line: lineNumber,
      });
    }
    seen.add(line.custom_id);
    if (line.method.toUpperCase() !== 'POST') {
      report({ code: 'invalid_method', message: 'The method must be POST.', param: 'method', line: lineNumber });
    }
    if (line.url !== rules.endpoint) {
      report({
        code: 'invalid_url',
        message: `The url '${line.url}' does not match the endpoint of the batch ('${rules.endpoint}').`,
        param: 'url',
        line: lineNumber,
      });
    }
    const model = line.body.model ?? handler.defaultModel ?? undefined;
    if (typeof model !== 'string' || model === '') {
      report({
        code: 'missing_required_parameter',
        message: "Missing required parameter: 'body.model'.",
        param: 'body.model',
        line: lineNumber,
      });
    } else {
      if (!models.has(model)) {
        report({
          code: 'model_not_found',
          message: `The model '${model}' does not exist or you do not have access to it.`,
          param: 'body.model',
          line: lineNumber,
        });
      }
      if (firstModel === null) firstModel = model;
      else if (model !== firstModel) {
        mixed = true;
        if (!rules.mixedModels) {
          report({
            code: 'mismatched_model',
            message: `The model '${model}' differs from the model of the batch ('${firstModel}'); a batch may use one model only.`,
            param: 'body.model',
            line: lineNumber,
          });
        }
      }
    }
    inputs += handler.inputCount(line.body);
    const text = handler.promptText(line.body);
    if (text !== null) {
      tokens += estimateTokens(text);
      // Test markers of a body a provider refuses at validation: with the line named, or failing the whole file.
      if (text.includes('[sim:poison-line]')) {
        report({
          code: 'invalid_request',
          message: 'This request cannot be processed (simulated by [sim:poison-line]).',
          param: 'body',
          line: lineNumber,
        });
      }
      if (text.includes('[sim:poison]')) poison = true;
    }
  }
  if (inputs > maxInputs) {
    report({
      code: 'too_many_embedding_inputs',
      message: `The batch holds ${inputs} embedding inputs across its requests; the limit is ${maxInputs}.`,
      param: null,
      line: null,
    });
  }
  if (poison) {
    // As providers do when a file trips an internal limit or parser: the batch fails, no line is named.
    report({ code: 'invalid_file', message: 'The batch input file could not be processed.', param: null, line: null });
  }

  if (lines === 0) {
    report({ code: 'empty_file', message: 'The batch input file is empty.', param: null, line: null });
  } else if (lines > rules.maxLines) {
    report({
      code: 'too_many_lines',
      message: `The batch input file has ${lines} requests; the limit is ${rules.maxLines}.`,
      param: null,
      line: null,
    });
  }
  return { lines, errors, tokens, model: mixed ? null : firstModel };
}
