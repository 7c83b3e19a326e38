/**
 * The simulator's legacy-completions "model" (`/v1/completions`): a pure, documented function from a request to a
 * `text_completion`, so that a test can recompute the answer a request must have received.
 *
 * One choice per prompt and `n` (index `prompt * n + j`), each with text `sim:<hash> <model> re: <excerpt>`: `<hash>`
 * is 16 hex chars of SHA-256 over that prompt (JSON, so a token array hashes as itself) and `<excerpt>` the first 80
 * characters of a string prompt (empty for tokens); `echo: true` puts the prompt in front, as OpenAI does.
 * `max_tokens` defaults to 16, as OpenAI's does: a longer text is cut to 4 characters per token and ends with
 * `finish_reason: "length"`. Usage: `prompt_tokens` sums `ceil(chars / 4)` (or the token count) over prompts,
 * `completion_tokens` sums `ceil(text length / 4)` over choices.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { estimateTokens, stableStringify } from './completion.js';

const DEFAULT_MAX_TOKENS = 16;
/** OpenAI's meaning of a missing or null prompt: the document separator. */
const NULL_PROMPT = '<|endoftext|>';

/** The completions request body as the simulator checks it: only what the simulated model reads. */
export const textCompletionBodySchema = z.looseObject({
  model: z.string().min(1),
  prompt: z
    .union([
      z.string(),
      z.array(z.string()),
      z.array(z.number().int()).min(1),
      z.array(z.array(z.number().int()).min(1)).min(1),
    ])
    .nullable(),
  max_tokens: z.number().int().min(0).nullable().optional(),
  n: z.number().int().min(1).max(128).nullable().optional(),
  echo: z.boolean().nullable().optional(),
  stream: z.boolean().nullable().optional(),
});

export type TextCompletionBody = z.output<typeof textCompletionBodySchema>;

/** The part of a completions request the simulator reads. */
export interface SimTextCompletionRequest {
  model: string;
  prompt: string | readonly string[] | readonly number[] | readonly (readonly number[])[] | null;
  max_tokens?: number | null | undefined;
  n?: number | null | undefined;
  echo?: boolean | null | undefined;
}

/** A `text_completion` object as OpenAI returns it. */
export interface SimTextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { text: string; index: number; logprobs: null; finish_reason: 'stop' | 'length' }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  system_fingerprint: string;
}

type Prompt = string | readonly number[];

/** The prompts of a request, one per `n` choices. */
export function textCompletionPrompts(prompt: SimTextCompletionRequest['prompt']): Prompt[] {
  if (prompt === null) return [NULL_PROMPT];
  if (typeof prompt === 'string') return [prompt];
  if (prompt.length === 0) return [NULL_PROMPT];
  if (typeof prompt[0] === 'number') return [prompt as readonly number[]];
  return [...(prompt as readonly Prompt[])];
}

/** The string prompts of any body, valid or not, one per line: what markers and token estimates read. */
export function textCompletionPromptText(body: Record<string, unknown>): string {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return prompt;
  if (!Array.isArray(prompt)) return '';
  return prompt.filter((p): p is string => typeof p === 'string').join('\n');
}

const promptTokens = (prompt: Prompt): number => (typeof prompt === 'string' ? estimateTokens(prompt) : prompt.length);

export interface SimulatedTextCompletionOptions {
  /** `created` of the completion (unix seconds). @defaultValue now */
  created?: number;
}

/** The deterministic answer to a completions request (see the module comment for the exact rules). */
export function simulatedTextCompletion(
  body: SimTextCompletionRequest,
  options: SimulatedTextCompletionOptions = {},
): SimTextCompletion {
  const prompts = textCompletionPrompts(body.prompt);
  const n = body.n ?? 1;
  const limit = body.max_tokens ?? DEFAULT_MAX_TOKENS;
  const choices: SimTextCompletion['choices'] = [];
  let completionTokens = 0;
  prompts.forEach((prompt, p) => {
    const hash = createHash('sha256').update(JSON.stringify(prompt)).digest('hex').slice(0, 16);
    const excerpt = typeof prompt === 'string' ? prompt.replace(/\s+/g, ' ').trim().slice(0, 80) : '';
    let text = `sim:${hash} ${body.model} re: ${excerpt}`;
    let tokens = estimateTokens(text);
    let finishReason: 'stop' | 'length' = 'stop';
    if (limit > 0 && tokens > limit) {
      text = text.slice(0, limit * 4);
      tokens = limit;
      finishReason = 'length';
    }
    if (body.echo === true && typeof prompt === 'string') text = prompt + text;
    for (let j = 0; j < n; j++) {
      choices.push({ text, index: p * n + j, logprobs: null, finish_reason: finishReason });
      completionTokens += tokens;
    }
  });
  const promptTotal = prompts.reduce((sum, prompt) => sum + promptTokens(prompt), 0);
  return {
    id: `cmpl-sim${createHash('sha256').update(stableStringify(body)).digest('hex').slice(0, 24)}`,
    object: 'text_completion',
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: body.model,
    choices,
    usage: {
      prompt_tokens: promptTotal,
      completion_tokens: completionTokens,
      total_tokens: promptTotal + completionTokens,
    },
    system_fingerprint: 'fp_sim',
  };
}
