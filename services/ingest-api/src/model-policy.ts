/**
 * Which models a tenant may use (`allowed_models`: exact names, `*` for any, or `prefix*`), and the list `GET /v1/models`
 * shows. The check is compiled once per tenant object and cached, so the hot path does a Set lookup.
 */
import { PROFILE_USUAL_MODELS, type ProviderProfileName, type Tenant } from '@batchbridge/config';

/** What `GET /v1/models` lists for a tenant allowed `*`: the usual batch models of the provider profile. */
export const PROFILE_DEFAULT_MODELS = PROFILE_USUAL_MODELS;

interface CompiledPolicy {
  any: boolean;
  exact: ReadonlySet<string>;
  prefixes: readonly string[];
}

const compiled = new WeakMap<Tenant, CompiledPolicy>();

function compile(tenant: Tenant): CompiledPolicy {
  let policy = compiled.get(tenant);
  if (!policy) {
    const exact = new Set<string>();
    const prefixes: string[] = [];
    let any = false;
    for (const m of tenant.allowed_models) {
      if (m === '*') any = true;
      else if (m.endsWith('*')) prefixes.push(m.slice(0, -1));
      else exact.add(m);
    }
    policy = { any, exact, prefixes };
    compiled.set(tenant, policy);
  }
  return policy;
}

export function modelAllowed(tenant: Tenant, model: string): boolean {
  const p = compile(tenant);
  return p.any || p.exact.has(model) || p.prefixes.some((prefix) => model.startsWith(prefix));
}

/**
 * The model ids to list for a tenant: its exact allowed models, plus — when it may use any, or a prefix — the
 * profile's defaults and the models the provider lists (`providerModels`) that match.
 */
export function listedModels(
  tenant: Tenant,
  profile: ProviderProfileName,
  providerModels: readonly string[] = [],
): string[] {
  const p = compile(tenant);
  const out = new Set<string>(p.exact);
  for (const m of [...PROFILE_DEFAULT_MODELS[profile], ...providerModels]) {
    if (p.any || p.prefixes.some((prefix) => m.startsWith(prefix))) out.add(m);
  }
  return [...out];
}
