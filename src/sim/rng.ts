/** mulberry32: a small, fast, seeded PRNG; the simulator's only source of randomness. */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Counts per interval at a mean `rate`, Poisson by its normal approximation
 * (good from a few dozen up), from a seeded generator.
 */
export const poissonCounts = (seed: number): ((rate: number) => number) => {
  const random = mulberry32(seed)
  return (rate) => {
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
    return Math.max(0, Math.round(rate + Math.sqrt(rate) * z))
  }
}
