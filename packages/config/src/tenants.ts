/** Tenants: who may call the API, with which keys, models, limits and webhook secret (`TENANTS_FILE`). */
import { z } from 'zod';
import { parseRelativeDeadlineMs } from './deadline.js';
import { LANES } from './price-table.js';

export const TenantSchema = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  api_keys: z.array(z.string().min(16, 'API keys must be at least 16 characters')).min(1),
  /** The signing secret, or several during a rotation (each one adds a `v1,` signature to every delivery). */
  webhook_secret: z
    .union([z.string().startsWith('whsec_'), z.array(z.string().startsWith('whsec_')).min(1)])
    .optional(),
  /** Several signing secrets (SPEC §16), e.g. the old and the new one during a rotation made by hand; with `webhook_secret`, both lists count. */
  webhook_secrets: z.array(z.string().startsWith('whsec_')).min(1).optional(),
  /** Where operational events go (`endpoint.disabled`, `message.attempt.exhausted`), signed like every webhook. */
  operations_url: z.url().optional(),
  allowed_models: z.array(z.string().min(1)).default(['*']),
  default_callback_url: z.url().optional(),
  rate_limit_per_s: z.number().int().positive().optional(),
  max_queued: z.number().int().positive().optional(),
  /** Transparent mode (SPEC §8): requests wait this long for their outcome unless they say `Prefer: wait=…`. */
  default_wait_s: z.number().int().min(0).max(86_400).optional(),
  /**
   * Aggregated deliveries (SPEC §16): outcomes for one callback URL go out together, up to `max_events` per signed POST
   * (each keeping its own `webhook-id` inside), after waiting at most `max_wait_ms` for more. Unset: one POST each.
   */
  webhook_batch: z
    .object({
      max_events: z.number().int().min(2).max(1_000),
      max_wait_ms: z.number().int().min(0).max(60_000).default(1_000),
    })
    .optional(),
  /** Provider ids of PROVIDERS_FILE this tenant's requests may go to (SPEC §11); unset = any. */
  allowed_providers: z.array(z.string().min(1)).min(1).optional(),
  /** Deadline of requests that name none (SPEC §10): seconds or a duration (`90`, `10m`, `2h`) from arrival. */
  default_deadline: z
    .union([z.number().positive(), z.string()])
    .refine((v) => parseRelativeDeadlineMs(v) !== undefined, 'expected seconds or a duration such as 90s, 10m, 2h')
    .optional(),
  /** The lanes this tenant's requests may take (SPEC §10); unset = every lane its provider has. */
  lanes: z.array(z.enum(LANES)).min(1).optional(),
  /** Take the openai SDK's own `X-Stainless-Timeout` (seconds) as the deadline of a request that names none. */
  deadline_from_client_timeout: z.boolean().optional(),
  /** Spend limit per calendar month (UTC) in USD (SPEC §15): intake answers 429 `budget_exceeded` past it. */
  monthly_budget_usd: z.number().positive().optional(),
  /** Spend limit per UTC day in USD, like `monthly_budget_usd`. */
  daily_budget_usd: z.number().positive().optional(),
});

export const TenantsFileSchema = z.object({
  tenants: z
    .array(
      TenantSchema.refine((t) => t.webhook_secret !== undefined || t.webhook_secrets !== undefined, {
        message: 'a tenant needs webhook_secret or webhook_secrets',
        path: ['webhook_secret'],
      }),
    )
    .min(1),
});

export type Tenant = z.infer<typeof TenantSchema>;

/** The tenant's configured signing secrets (`webhook_secret` then `webhook_secrets`, without repeats). */
export function webhookSecrets(tenant: Tenant): string[] {
  const one = tenant.webhook_secret;
  const listed = one === undefined ? [] : Array.isArray(one) ? one : [one];
  return [...new Set([...listed, ...(tenant.webhook_secrets ?? [])])];
}

/** Parses the tenants file content; throws an Error whose message lists every problem. */
export function parseTenants(json: string, source = 'TENANTS_FILE'): Tenant[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const parsed = TenantsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(lines.join('\n'));
  }
  const ids = new Set<string>();
  for (const t of parsed.data.tenants) {
    // A later entry would silently replace the earlier one, and its secret would sign the other's results.
    if (ids.has(t.id)) throw new Error(`${source}: tenant id "${t.id}" is listed more than once`);
    ids.add(t.id);
  }
  const seen = new Map<string, string>();
  for (const t of parsed.data.tenants) {
    for (const key of t.api_keys) {
      const owner = seen.get(key);
      if (owner) throw new Error(`${source}: an API key is listed for both tenants ${owner} and ${t.id}`);
      seen.set(key, t.id);
    }
  }
  return parsed.data.tenants;
}
