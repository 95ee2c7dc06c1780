/**
 * `slew-rate`: bound how fast any fleet-wide change can happen. The root
 * holds what runs a coordinator: createCoordinator, config loading and the
 * errors. The pure core is `slew-rate/engine`, the client `slew-rate/sdk`,
 * the simulator `slew-rate/sim`. test/unit/exports.test.ts pins each list:
 * widening the public API is a decision, not a side effect.
 */

export { type ConfigReport, checkConfig, type LoadedConfig, loadConfig } from './config/load.js'
export { type Config, type ConfigInput, configSchema } from './config/schema.js'
export {
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
  type Listening,
} from './coordinator/coordinator.js'
export * from './errors.js'
