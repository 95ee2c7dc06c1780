/**
 * The business watch's detection, on the real watch code and a simulated
 * series (no network): counts per second, Poisson by their normal
 * approximation, at `rate`; ten minutes of history, then a drop. For each
 * (rate, drop): the time from the drop to the incident over 40 seeds
 * (p50, p95, max); and false incidents over simulated weeks of noise.
 *
 * `node --import tsx bench/watch-detection.ts [weeks]`
 */
import { poissonCounts } from '../src/sim/rng.js'
import { MetricWatch, type WatchSpec } from '../src/watch/watch.js'

const spec: WatchSpec = {
  metric: 'orders',
  worse: 'lower',
  threshold: 4,
  forMs: 10_000,
  clearMs: 60_000,
}
const weeks = Number(process.argv[2] ?? 4)

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

console.log('| rate (events/s) | drop | detection p50 | p95 | max |')
console.log('| --- | --- | --- | --- | --- |')
for (const [rate, drop] of [
  [100, 0.5],
  [100, 0.2],
  [100, 0.1],
  [1000, 0.1],
] as const) {
  const ds: number[] = []
  for (let seed = 0; seed < 40; seed++) {
    const count = poissonCounts(100 + seed)
    const w = new MetricWatch(spec)
    for (let t = 0; t < 900_000; t += 1000) w.step(t, count(rate))
    let d = Number.POSITIVE_INFINITY
    for (let t = 900_000; t < 1_500_000; t += 1000)
      if (w.step(t, count(rate * (1 - drop))).opened) {
        d = t - 900_000 + 1000
        break
      }
    ds.push(d)
  }
  ds.sort((a, b) => a - b)
  const s = (ms: number) => (Number.isFinite(ms) ? `${ms / 1000} s` : 'not caught')
  console.log(
    `| ${rate} | ${drop * 100} % | ${s(quantile(ds, 0.5))} | ${s(quantile(ds, 0.95))} | ${s(ds.at(-1)!)} |`,
  )
}
for (const rate of [100, 1000]) {
  let opened = 0
  for (let seed = 0; seed < weeks; seed++) {
    const count = poissonCounts(10 + seed)
    const w = new MetricWatch(spec)
    for (let t = 0; t < 7 * 86_400_000; t += 1000) if (w.step(t, count(rate)).opened) opened++
  }
  console.log(`noise only at ${rate}/s: ${opened} false incidents in ${weeks} simulated weeks`)
}
