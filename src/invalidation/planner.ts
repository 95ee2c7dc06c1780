/**
 * The wave planner: cumulative fleet fractions become shard ranges.
 * `[0.01, 0.05, 0.25, 1]` over 100 shards is [0,1) [1,5) [5,25) [25,100).
 * A step that adds no whole shard is dropped rather than planned empty.
 */
import { parseOptions } from '../validate.js'
import { stepsSchema } from './change.js'

export interface WaveRange {
  readonly index: number
  /** First shard of the wave. */
  readonly lo: number
  /** One past the last shard of the wave. */
  readonly hi: number
  /** Cumulative fraction of the fleet reached when this wave is done. */
  readonly fraction: number
}

export const planWaves = (steps: readonly number[], shards: number): WaveRange[] => {
  parseOptions(stepsSchema, steps, 'waves.steps')
  const waves: WaveRange[] = []
  let lo = 0
  for (const step of steps) {
    const hi = Math.min(shards, Math.max(1, Math.ceil(step * shards - 1e-9)))
    if (hi <= lo) continue
    waves.push({ index: waves.length, lo, hi, fraction: hi / shards })
    lo = hi
  }
  return waves
}
