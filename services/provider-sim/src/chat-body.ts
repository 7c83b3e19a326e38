/**
 * The chat-completion request body as the simulator checks it, in realtime calls and in batch lines alike. Only what
 * the simulated model reads is checked; other parameters pass through, as providers accept them.
 */
import { z } from 'zod';

export const chatBodySchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(z.looseObject({ role: z.string() })).min(1),
  max_tokens: z.number().int().positive().nullable().optional(),
  max_completion_tokens: z.number().int().positive().nullable().optional(),
  stream: z.boolean().nullable().optional(),
});

export type ChatBody = z.output<typeof chatBodySchema>;
