/** `slew/sim`: the fleet simulator on the virtual clock (naive broadcast vs slew). */

export { clientId, type Fleet, type FleetSpec, generateFleet } from './fleet.js'
export { FleetSim, type FleetSimOptions } from './fleet-sim.js'
export { type NaiveResult, runNaive } from './naive.js'
export { Origin } from './origin.js'
export { mulberry32 } from './rng.js'
export {
  type SimulateInput,
  type SimulateOptions,
  type SimulateResult,
  simulate,
} from './scenario.js'
export { type PlotOptions, plotSvg } from './svg.js'
