/** One cell of the margins grid in a fresh process: prints its figures as JSON. */
import { simulateMetastable } from '../dist/sim/metastable.js'
import { simulateRewarmSlew } from '../dist/sim/rewarm.js'

const [kind, x, seed] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
if (kind === 'rewarm') {
  const r = simulateRewarmSlew({ capacity: x, seed })
  const work = Math.floor(r.options.work / r.options.clients) * r.options.clients
  const idealMs = (work / Math.min(r.options.capacity, r.options.budget)) * 1000
  console.log(
    JSON.stringify({
      ratio: r.completionMs / idealMs,
      overTarget: r.overTargetFraction,
      peakPerSec: r.peakPerSec,
    }),
  )
} else {
  // x: the share of the fleet's traffic the origin can serve uncached.
  const o = { clients: 50, rps: 100 }
  const m = simulateMetastable({ ...o, capacity: x * o.clients * o.rps, seed })
  console.log(
    JSON.stringify({
      ratio: m.slew.recoveredMs === null ? null : m.slew.recoveredMs / m.slew.idealRecoveryMs,
      overTarget: m.slew.overTargetFraction,
      peakPerSec: m.slew.peakPerSec,
      boundPerSec: m.boundPerSec,
    }),
  )
}
