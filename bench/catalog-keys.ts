/**
 * The catalog bench's key universe, shared by its processes: keys `sku:0` …
 * `sku:<U-1>`; client j (id `cat<j>`) holds a deterministic `perClient` of
 * them, drawn by a seeded hash (so every process knows every key's holders
 * without asking); the pusher's keys are a seeded shuffle of the universe
 * (no key pushed twice, so a key names its push).
 */

/** A 32-bit integer mix (lowbias32): spreads nearby inputs over the whole range. */
export const mix32 = (x: number): number => {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  h = Math.imul(h, 0x846ca68b)
  h ^= h >>> 16
  return h >>> 0
}

export const keyName = (k: number): string => `sku:${k}`

/** Client j's keys (indices into the universe), sorted, no repeats: about `perClient` of them. */
export const keysOf = (
  j: number,
  perClient: number,
  universe: number,
  seed: number,
): Uint32Array => {
  const base = mix32(Math.imul(j + 1, 0x9e3779b1) ^ seed)
  const drawn = new Uint32Array(perClient)
  for (let t = 0; t < perClient; t++)
    drawn[t] = mix32(base ^ Math.imul(t + 1, 0x85ebca6b)) % universe
  drawn.sort()
  let n = 0
  for (let t = 0; t < perClient; t++)
    if (t === 0 || drawn[t] !== drawn[t - 1]) drawn[n++] = drawn[t]!
  return drawn.slice(0, n)
}

/** Does the sorted list hold k? */
export const holds = (keys: Uint32Array, k: number): boolean => {
  let lo = 0
  let hi = keys.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const v = keys[mid]!
    if (v === k) return true
    if (v < k) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

/** Holders per key over clients 0 … n-1. */
export const holderCounts = (
  n: number,
  perClient: number,
  universe: number,
  seed: number,
): Uint32Array => {
  const counts = new Uint32Array(universe)
  for (let j = 0; j < n; j++) for (const k of keysOf(j, perClient, universe, seed)) counts[k]!++
  return counts
}

/** The order keys are pushed in: a seeded Fisher–Yates shuffle of the universe. */
export const pushOrder = (universe: number, seed: number): Uint32Array => {
  const order = new Uint32Array(universe)
  for (let i = 0; i < universe; i++) order[i] = i
  let s = mix32(seed ^ 0x5bd1e995)
  for (let i = universe - 1; i > 0; i--) {
    s = mix32(s + 0x6d2b79f5)
    const j = s % (i + 1)
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  return order
}
