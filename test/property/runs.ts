/**
 * How hard the properties try. CI: a few hundred runs each. A long local run:
 * SLEW_PROPERTY_RUNS=5000 npm run test:long. Replay a failure with the seed
 * and path fast-check prints: SLEW_PROPERTY_SEED=<seed> SLEW_PROPERTY_PATH=<path>.
 */
import type { Parameters } from 'fast-check'

export const RUNS = Number(process.env.SLEW_PROPERTY_RUNS ?? 250)

export const params = <T>(runs = RUNS): Parameters<T> => ({
  numRuns: runs,
  ...(process.env.SLEW_PROPERTY_SEED && { seed: Number(process.env.SLEW_PROPERTY_SEED) }),
  ...(process.env.SLEW_PROPERTY_PATH && { path: process.env.SLEW_PROPERTY_PATH }),
})
