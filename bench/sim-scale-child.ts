/** One measured run in a fresh process: prints {wallMs, maxRssMb, ...} as JSON. */
import { generateFleet, runNaive, simulate } from '../dist/sim/index.js'

const [what, clients] = [process.argv[2], Number(process.argv[3])]
const started = performance.now()
let extra: Record<string, unknown> = {}
if (what === 'slew') {
  const r = simulate({ clients, entries: 100, budget: 1000 })
  extra = {
    amplification: r.slew.amplification,
    efficiency: r.slew.efficiency,
    naivePeak: r.naive.peakPerSec,
    slewPeak: r.slew.peakPerSec,
  }
} else {
  // Baseline: the naive pass alone over the same fleet and horizon (what any simulator must at least do).
  const fleet = generateFleet({ clients, entries: 100, rps: 20, spread: 0.5, seed: 1 })
  const n = runNaive(fleet, {
    skew: 1,
    horizonMs: (fleet.totalEntries / 1000) * 1000 + 10_000,
    seed: 1,
  })
  extra = { naivePeak: n.peakPerSec }
}
const wallMs = performance.now() - started
console.log(
  JSON.stringify({
    what,
    clients,
    wallMs: Math.round(wallMs),
    maxRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...extra,
  }),
)
