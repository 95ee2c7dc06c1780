/**
 * A synthetic fleet: N clients with cache sizes and request rates drawn
 * uniformly within ±spread of their means, from a seed. Client i is "c<i>".
 */
import { mulberry32 } from './rng.js'

export interface FleetSpec {
  readonly clients: number
  /** Mean entries per client cache. */
  readonly entries: number
  /** Mean requests per second per client. */
  readonly rps: number
  /** Relative spread of sizes and rates around their means, in [0, 1). */
  readonly spread: number
  readonly seed: number
}

export interface Fleet {
  readonly size: number
  readonly entries: Int32Array
  readonly rps: Float64Array
  readonly totalEntries: number
  readonly maxEntries: number
}

export const clientId = (i: number): string => `c${i}`
export const clientIndex = (id: string): number => Number.parseInt(id.slice(1), 10)

export const generateFleet = (spec: FleetSpec): Fleet => {
  const rand = mulberry32(spec.seed ^ 0x5eed)
  const entries = new Int32Array(spec.clients)
  const rps = new Float64Array(spec.clients)
  let total = 0
  let max = 0
  for (let i = 0; i < spec.clients; i++) {
    const e = Math.max(0, Math.round(spec.entries * (1 + spec.spread * (2 * rand() - 1))))
    entries[i] = e
    rps[i] = spec.rps * (1 + spec.spread * (2 * rand() - 1))
    total += e
    if (e > max) max = e
  }
  return { size: spec.clients, entries, rps, totalEntries: total, maxEntries: max }
}
