export {
  type DeadlineParse,
  MAX_DEADLINE_MS,
  parseDeadline,
  parseRelativeDeadlineMs,
} from './deadline.js';
export { parseDuration, parseDurationList } from './duration.js';
export { CONFIG_ENV_NAMES, type Config, type ConfigResult, type Env, parseConfig, upstreamLanes } from './env.js';
export {
  ANY_PROVIDER,
  costOf,
  DEFAULT_PRICE_TABLE,
  estimateSavingsUsd,
  LANES,
  type Lane,
  type LaneCosts,
  type LanePrice,
  laneCosts,
  laneRate,
  loadPriceTable,
  type ModelEntry,
  ModelEntrySchema,
  NANO,
  type PricedModel,
  type PriceTable,
  PriceTableSchema,
  parsePriceTable,
  priceFor,
  type Rate,
  type RequestCost,
  type TokenUsage,
  toNano,
  usageOf,
  usdOf,
} from './price-table.js';
export {
  BATCH_ENDPOINTS,
  type BatchEndpoint,
  defaultTurnaroundMs,
  type EndpointLimits,
  hasFlex,
  OPENAI_FLEX_MODELS,
  PROFILE_USUAL_MODELS,
  PROVIDER_PROFILE_NAMES,
  PROVIDER_PROFILES,
  type ProviderApi,
  type ProviderProfile,
  type ProviderProfileName,
  UNBOUNDED_INPUTS,
} from './provider-profiles.js';
export {
  DEFAULT_PROVIDER_ID,
  globToRegExp,
  PROVIDER_ID_PATTERN,
  type ProviderConfig,
  type ProvidersResult,
  parseProviders,
} from './providers.js';
export { parseTenants, type Tenant, TenantSchema, TenantsFileSchema, webhookSecrets } from './tenants.js';
