/** slew: bound how fast any fleet-wide change can happen. */

export { type LoadedConfig, loadConfig } from './config/load.js'
export { type Config, type ConfigInput, configSchema } from './config/schema.js'
export {
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
  type Listening,
} from './coordinator/coordinator.js'
export * from './engine.js'
export * from './errors.js'
