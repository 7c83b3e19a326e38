/**
 * Several providers at once (SPEC §11): `PROVIDERS_FILE`, JSON (or YAML when the name ends in .yaml/.yml)
 * `{"providers":[{"id","profile","base_url","api_key" | "api_key_env","models"?,"aliases"?,"priority"?,
 * "webhook_secret"?,"push"?,"lanes"?,"realtime"?}]}`. Without the file, `UPSTREAM_*` is the one provider, id `default`.
 *
 * Parsed and checked at start like every other setting: `parseProviders` never throws, it answers every problem, one
 * line each, naming the file and the field.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  PROVIDER_PROFILE_NAMES,
  PROVIDER_PROFILES,
  type ProviderProfile,
  type ProviderProfileName,
} from './provider-profiles.js';

/** Ids are part of group names and metric labels: short, lower-case, no separator (`:`, `|`, `~`, `+`). */
export const PROVIDER_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** The id of the single provider of `UPSTREAM_*`. */
export const DEFAULT_PROVIDER_ID = 'default';

const httpUrl = z
  .string()
  .trim()
  .refine((v) => {
    try {
      const u = new URL(v);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  }, 'expected an absolute http(s) URL');

const ProviderEntrySchema = z
  .object({
    id: z.string().regex(PROVIDER_ID_PATTERN, 'expected 1–32 lower-case letters, digits, _ or -'),
    profile: z.enum(PROVIDER_PROFILE_NAMES, { error: `expected one of ${PROVIDER_PROFILE_NAMES.join(', ')}` }),
    base_url: httpUrl,
    api_key: z.string().min(1).optional(),
    api_key_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name')
      .optional(),
    /** Exact names or globs (`*` any run of characters, `?` one) of the models a client sends. */
    models: z.array(z.string().min(1)).optional(),
    /** Public name → this provider's own name (`llama-3.3-70b` → `meta-llama/Llama-3.3-70B-Instruct-Turbo`). */
    aliases: z.record(z.string().min(1), z.string().min(1)).optional(),
    /** Lower is preferred. */
    priority: z.number().int().min(0).max(1_000_000).default(100),
    /** Signing secret of the provider's own batch webhooks (SPEC §13). */
    webhook_secret: z.string().min(1).optional(),
    /**
     * The provider pushes its batch events to `POST /v1/provider-events/<id>`: its batches are polled only as a
     * backstop (POLL_MAX_INTERVAL_MS_PUSH). @defaultValue true when webhook_secret is set
     */
    push: z.boolean().optional(),
    lanes: z
      .array(z.enum(['batch', 'flex', 'realtime']))
      .min(1)
      .default(['batch']),
    realtime: z
      .object({
        rpm: z.number().int().positive().optional(),
        tpm: z.number().int().positive().optional(),
        concurrency: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** Per-call timeout for this provider. @defaultValue UPSTREAM_TIMEOUT_MS */
    timeout_ms: z.number().int().min(100).max(3_600_000).optional(),
    /** `max_tokens` of a translated request that gives none (profile `anthropic`). @defaultValue the profile's */
    default_max_tokens: z.number().int().positive().max(1_000_000).optional(),
    /** Batch creations per minute across replicas. @defaultValue the profile's */
    batch_creates_per_minute: z.number().int().positive().optional(),
  })
  .strict();

const ProvidersFileSchema = z.object({ providers: z.array(ProviderEntrySchema).min(1) }).strict();

/** One provider, resolved: its key read, its profile looked up, its model patterns compiled. */
export interface ProviderConfig {
  id: string;
  profile: ProviderProfile;
  baseUrl: string;
  apiKey: string;
  /** Model patterns; empty = whatever the provider lists (`GET /v1/models`) plus the profile's usual models. */
  models: readonly string[];
  aliases: Readonly<Record<string, string>>;
  priority: number;
  webhookSecret: string | undefined;
  /** Pushes its batch events (SPEC §13): polling slows to the backstop cap POLL_MAX_INTERVAL_MS_PUSH. */
  push: boolean;
  lanes: readonly ('batch' | 'flex' | 'realtime')[];
  realtime: { rpm?: number | undefined; tpm?: number | undefined; concurrency?: number | undefined } | undefined;
  timeoutMs: number;
  batchCreatesPerMinute: number;
  /** `max_tokens` for a translated request that gives none (Anthropic); undefined: such requests are refused. */
  defaultMaxTokens?: number | undefined;
}

export type ProvidersResult = { ok: true; providers: ProviderConfig[] } | { ok: false; problems: string[] };

/** `*` = any run of characters, `?` = one; everything else literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

/**
 * Reads the providers file's content. `env` resolves `api_key_env`; `defaults` fill what an entry leaves out.
 * `source` names the file in every problem (`PROVIDERS_FILE: providers.json: providers.1.base_url: …`).
 */
export function parseProviders(
  text: string,
  options: {
    source: string;
    yaml?: boolean;
    env: Record<string, string | undefined>;
    defaults: { timeoutMs: number };
  },
): ProvidersResult {
  const { source } = options;
  let raw: unknown;
  try {
    raw = options.yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    const first = (err as Error).message.split('\n')[0];
    return { ok: false, problems: [`${source}: not valid ${options.yaml ? 'YAML' : 'JSON'} (${first})`] };
  }
  const parsed = ProvidersFileSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => `${source}: ${i.path.join('.') || '(root)'}: ${i.message}`),
    };
  }
  const problems: string[] = [];
  const ids = new Set<string>();
  const out: ProviderConfig[] = [];
  parsed.data.providers.forEach((p, index) => {
    const at = `${source}: providers.${index}`;
    if (ids.has(p.id)) problems.push(`${at}.id: "${p.id}" is listed more than once`);
    ids.add(p.id);
    let apiKey = p.api_key;
    if (p.api_key && p.api_key_env) problems.push(`${at}: give api_key or api_key_env, not both`);
    else if (p.api_key_env) {
      apiKey = options.env[p.api_key_env];
      if (!apiKey) problems.push(`${at}.api_key_env: the variable ${p.api_key_env} is not set`);
    } else if (!apiKey) problems.push(`${at}: api_key or api_key_env is required`);
    for (const m of p.models ?? []) {
      if (/[|]/.test(m)) problems.push(`${at}.models: "${m}" may not contain |`);
    }
    for (const [alias, own] of Object.entries(p.aliases ?? {})) {
      if (alias.includes('*') || alias.includes('?')) problems.push(`${at}.aliases: "${alias}" must be an exact name`);
      if (/[|]/.test(alias) || /[|]/.test(own)) problems.push(`${at}.aliases: "${alias}" may not contain |`);
    }
    const profile = PROVIDER_PROFILES[p.profile as ProviderProfileName];
    out.push({
      id: p.id,
      profile,
      baseUrl: p.base_url,
      apiKey: apiKey ?? '',
      models: p.models ?? [],
      aliases: p.aliases ?? {},
      priority: p.priority,
      webhookSecret: p.webhook_secret,
      push: p.push ?? p.webhook_secret !== undefined,
      lanes: p.lanes,
      realtime: p.realtime,
      timeoutMs: p.timeout_ms ?? options.defaults.timeoutMs,
      batchCreatesPerMinute: p.batch_creates_per_minute ?? profile.batchCreatesPerMinute,
      defaultMaxTokens: p.default_max_tokens ?? profile.defaultMaxTokens,
    });
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, providers: out };
}
