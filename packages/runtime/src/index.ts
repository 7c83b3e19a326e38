export { type HealthServer, type HealthServerOptions, startHealthServer } from './health-server.js';
export {
  FLEX_EXPECTED_MS,
  fastLaneExpectedMs,
  fastLaneFor,
  isFastLane,
  type LanePlan,
  LaneScheduler,
  type PlanInput,
  REALTIME_EXPECTED_MS,
} from './lane-scheduler.js';
export { missingNodeFlags, SERVICE_NODE_FLAGS } from './node-flags.js';
export { type RunMainOptions, runMain } from './run-main.js';
export { buildProviderRegistry, type CreateRuntimeOptions, createRuntime, type Runtime } from './runtime.js';
export type { Service } from './service.js';
export { CloseStack, createShutdown, handleSignals, type ShutdownStep } from './shutdown.js';
export { type LoadTenantsResult, loadTenants, TenantDirectory } from './tenants.js';
