// Drive the engine directly on a virtual clock: 1,000 clients, one invalidate-all.
// Run: npx tsx examples/engine-quickstart.ts
import { Engine, VirtualClock } from 'slew-rate/engine'

const clock = new VirtualClock()
let delivered = 0
const engine = new Engine({
  clock,
  config: {
    budgets: { invalidate: { ratePerSec: 500, burst: 500 } },
    waves: { steps: [0.01, 0.1, 1], bakeMs: 2000 },
  },
  deliver: (d) => {
    delivered += d.clientIds.length
  },
  onEvent: (e) => {
    if (e.type === 'wave' && e.phase === 'started')
      console.log(`t=${e.at} ms  wave ${e.wave} starts`)
    if (e.type === 'state') console.log(`t=${e.at} ms  ${e.rolloutId}: ${e.from} → ${e.to}`)
  },
})
for (let i = 0; i < 1000; i++) engine.join(`app-${i}`, { entries: 50 })

const { rollout } = engine.submit({
  kind: 'invalidate',
  target: { all: true },
  reason: 'bad price file',
})
clock.runAll()
const done = engine.get(rollout.id)
console.log(`${delivered} clients, ${done.deliveredCost} units, done at t=${done.endedAt} ms`)
// 50,000 units at 500/s is 100 s of budget; with two 2 s bakes the ideal is 104 s.
// Each bake lets the bucket refill its 1 s burst, so it ends a little sooner: t=101,300 ms.
