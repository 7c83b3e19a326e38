/** The provider simulator's Anthropic mode (Message Batches and Messages), started in-process. */
export { ANTHROPIC_VERSIONS, MAX_BATCH_BYTES, MAX_BATCH_REQUESTS } from './app.js';
export {
  type AnthropicSim,
  type AnthropicSimOptions,
  createAnthropicSim,
  DEFAULT_ANTHROPIC_MODELS,
} from './create-anthropic-sim.js';
export {
  paramsHash,
  paramsText,
  type SimAnthropicMessage,
  type SimMessageParams,
  simulatedMessage,
} from './message.js';
