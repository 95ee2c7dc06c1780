/**
 * The business watch fed as the coordinator feeds it: many clients'
 * heartbeats, every 10 s each at its own phase, each carrying its count
 * over the interval. Counts go to the second they arrive in: the seconds
 * stay independent, so a steady series opens no incident. Spread over
 * their interval instead, neighbouring seconds share each client's noise,
 * the per-second noise looks three times smaller than it is, and the
 * watch opens incidents on noise alone (the simulator found 161 a day).
 */
import { describe, expect, it } from 'vitest'
import { BusinessWatch } from '../../src/coordinator/business.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { mulberry32, poissonCounts } from '../../src/sim/rng.js'
import { watchSchema } from '../../src/watch/options.js'

/** Incidents opened over `hours` of a steady 100 orders/s from 500 clients of unequal traffic. */
const run = (
  hours: number,
  feed: (w: BusinessWatch, id: string, n: number, at: number) => void,
) => {
  const clock = new VirtualClock(0)
  const opened: string[] = []
  const watch = new BusinessWatch({
    specs: watchSchema.parse([{ metric: 'orders' }]),
    clock,
    pauseAll: () => [],
    notice: (line) => {
      if (/incident inc-\d+: /.test(line)) opened.push(line)
    },
  })
  const rnd = mulberry32(3)
  const count = poissonCounts(4)
  const clients = Array.from({ length: 500 }, (_, i) => ({
    id: `app-${i}`,
    phase: i % 10,
    weight: Math.exp(rnd() - 0.5),
  }))
  const total = clients.reduce((a, c) => a + c.weight, 0)
  for (let s = 0; s < hours * 3600; s++) {
    for (const c of clients)
      if (s % 10 === c.phase) feed(watch, c.id, count((100 * c.weight * 10) / total), clock.now())
    clock.advance(1000)
  }
  const [status] = watch.status()
  watch.close()
  // It judged the run, all but the last seconds still settling.
  expect(status!.last!.at).toBeGreaterThan(clock.now() - 20_000)
  expect(status!.last!.value).toBeGreaterThan(50)
  return opened
}

describe('the business watch fed by heartbeats', () => {
  it('opens no incident on a steady series of 10 s heartbeats', { timeout: 60_000 }, () => {
    const opened = run(3, (w, id, n, at) =>
      w.heartbeat(id, { metrics: { orders: n }, intervalMs: 10_000 }, at),
    )
    expect(opened).toEqual([])
  })
})
