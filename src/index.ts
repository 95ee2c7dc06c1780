/** slew: bound how fast any fleet-wide change can happen. */
export * from './engine.js'
export * from './errors.js'
