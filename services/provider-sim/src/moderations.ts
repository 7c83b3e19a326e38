/**
 * The simulator's moderation "model": a pure, documented function from a `/v1/moderations` request to its results,
 * so that a test can recompute the answer a request must have received.
 *
 * One result per string input; an array of multi-modal parts (`text`, `image_url`) is one input, as OpenAI treats
 * it. A category is flagged only when the input's text carries `[sim:flag=<category>]` (`[sim:flag]` alone means
 * `violence`); its score is then 0.99. Every other score is below 0.01, a fixed function of the input and the
 * category (from SHA-256). `category_applied_input_types` lists `text` for every category, plus `image` for the
 * categories OpenAI scores on images when the input has an image part.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { contentText, stableStringify } from './completion.js';

export const MODERATION_CATEGORIES = [
  'hate',
  'hate/threatening',
  'harassment',
  'harassment/threatening',
  'illicit',
  'illicit/violent',
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'sexual/minors',
  'violence',
  'violence/graphic',
] as const;

export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];

/** The categories OpenAI's omni models also score on images. */
const IMAGE_CATEGORIES: ReadonlySet<ModerationCategory> = new Set([
  'self-harm',
  'self-harm/intent',
  'self-harm/instructions',
  'sexual',
  'violence',
  'violence/graphic',
]);

/** The model used when a request names none (OpenAI's default). */
export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

const FLAG_MARKER = /\[sim:flag(?:=([a-z/-]+))?\]/g;

const partSchema = z.union([
  z.looseObject({ type: z.literal('text'), text: z.string() }),
  z.looseObject({ type: z.literal('image_url'), image_url: z.looseObject({ url: z.string() }) }),
]);

/** The moderations request body as the simulator checks it (the document's `CreateModerationRequest`). */
export const moderationsBodySchema = z.looseObject({
  model: z.string().min(1).optional(),
  input: z.union([z.string(), z.array(z.string()), z.array(partSchema)]),
});

export type ModerationsBody = z.output<typeof moderationsBodySchema>;

/** The part of a moderations request the simulator reads. */
export interface SimModerationsRequest {
  model?: string | undefined;
  input: string | readonly string[] | readonly unknown[];
}

export interface SimModerationResult {
  flagged: boolean;
  categories: Record<ModerationCategory, boolean>;
  category_scores: Record<ModerationCategory, number>;
  category_applied_input_types: Record<ModerationCategory, ('text' | 'image')[]>;
}

/** A moderation object as OpenAI returns it. */
export interface SimModeration {
  id: string;
  model: string;
  results: SimModerationResult[];
}

interface ModerationInput {
  text: string;
  image: boolean;
}

function moderationInputs(input: SimModerationsRequest['input']): ModerationInput[] {
  if (typeof input === 'string') return [{ text: input, image: false }];
  if (input.every((item) => typeof item === 'string')) {
    return input.map((text) => ({ text: text as string, image: false }));
  }
  return [
    {
      text: contentText(input),
      image: input.some((part) => (part as { type?: unknown } | null)?.type === 'image_url'),
    },
  ];
}

/** The text of any body, valid or not, one input per line: what markers and token estimates read. */
export function moderationsPromptText(body: Record<string, unknown>): string {
  const input = body.input;
  if (typeof input === 'string') return input;
  if (!Array.isArray(input)) return '';
  return input.map((item) => (typeof item === 'string' ? item : contentText([item]))).join('\n');
}

function flaggedCategories(text: string): Set<ModerationCategory> {
  const flagged = new Set<ModerationCategory>();
  for (const match of text.matchAll(FLAG_MARKER)) {
    const name = (match[1] ?? 'violence') as ModerationCategory;
    if ((MODERATION_CATEGORIES as readonly string[]).includes(name)) flagged.add(name);
  }
  return flagged;
}

function moderationResult(input: ModerationInput): SimModerationResult {
  const flagged = flaggedCategories(input.text);
  const digest = createHash('sha256').update(input.text).digest();
  const categories = {} as Record<ModerationCategory, boolean>;
  const scores = {} as Record<ModerationCategory, number>;
  const applied = {} as Record<ModerationCategory, ('text' | 'image')[]>;
  MODERATION_CATEGORIES.forEach((category, i) => {
    const isFlagged = flagged.has(category);
    categories[category] = isFlagged;
    // Two digest bytes per category: a score in [0, 0.01), fixed for the input.
    scores[category] = isFlagged ? 0.99 : digest.readUInt16LE(i * 2) / 6_553_600;
    applied[category] = input.image && IMAGE_CATEGORIES.has(category) ? ['text', 'image'] : ['text'];
  });
  return { flagged: flagged.size > 0, categories, category_scores: scores, category_applied_input_types: applied };
}

/** The deterministic answer to a moderations request (see the module comment for the exact rules). */
export function simulatedModeration(body: SimModerationsRequest): SimModeration {
  const model = body.model ?? DEFAULT_MODERATION_MODEL;
  return {
    id: `modr-sim${createHash('sha256')
      .update(stableStringify({ model, input: body.input }))
      .digest('hex')
      .slice(0, 24)}`,
    model,
    results: moderationInputs(body.input).map(moderationResult),
  };
}
