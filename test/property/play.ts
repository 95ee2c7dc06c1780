/** Play a generated scenario on the simulator: real engine, real refresh driver, virtual clock. */
import { SlewError } from '../../src/errors.js'
import { generateFleet } from '../../src/sim/fleet.js'
import { FleetSim } from '../../src/sim/fleet-sim.js'
import type { Scenario } from './arbitraries.js'

/** Timers the clean-up phase may run before the scenario counts as stuck. */
const TIMER_LIMIT = 2_000_000

/**
 * What a control may answer: a move the state machine refuses, a rollout a
 * cold restart forgot, or (a push) an idempotency key taken by another change.
 */
const expected = (error: unknown) =>
  error instanceof SlewError &&
  (error.code === 'E_ILLEGAL_TRANSITION' ||
    error.code === 'E_NOT_CONFIG_CHANGE' ||
    error.code === 'E_UNKNOWN_ROLLOUT' ||
    error.code === 'E_IDEMPOTENCY_CONFLICT')

export const play = (s: Scenario) => {
  const fleet = generateFleet({
    clients: s.fleet.clients,
    entries: s.fleet.entries,
    rps: 1,
    spread: s.fleet.spread,
    seed: s.fleet.seed,
  })
  const sim = new FleetSim({
    fleet,
    seed: s.fleet.seed,
    engine: s.config,
    initiallyLive: Math.round(s.fleet.initiallyLive * fleet.size),
    logFetches: true,
  })
  const ids: string[] = []
  const control = (fn: () => void) => {
    try {
      fn()
    } catch (error) {
      if (!expected(error)) throw error
    }
  }
  const pick = (which: number) => (ids.length > 0 ? ids[which % ids.length] : undefined)
  let lastAt = 0
  for (const e of s.events) {
    lastAt = Math.max(lastAt, e.at)
    sim.at(e.at, () => {
      switch (e.type) {
        case 'submit':
          // The same idempotency key with another change is refused, and changes nothing.
          control(() => ids.push(sim.engine.submit(e.change).rollout.id))
          break
        case 'storm':
          for (let k = 0; k < e.count; k++)
            ids.push(
              sim.engine.submit({ kind: 'invalidate', target: { all: true }, reason: 'storm' })
                .rollout.id,
            )
          break
        case 'join':
          sim.join(e.client % fleet.size)
          break
        case 'leave':
          sim.leave(e.client % fleet.size)
          break
        case 'restart':
          sim.restart()
          break
        case 'coldRestart':
          sim.coldRestart()
          break
        default: {
          const id = pick(e.which)
          if (id) control(() => sim.engine[e.type](id))
        }
      }
    })
  }
  sim.clock.runAll({ until: lastAt, limit: TIMER_LIMIT })
  // Clean-up: nothing stays paused, so every change can finish.
  for (const r of sim.engine.list()) if (r.state === 'paused') sim.engine.resume(r.id)
  sim.clock.runAll({ limit: TIMER_LIMIT })
  if (sim.clock.nextAt() !== undefined)
    throw new Error('scenario did not finish within the timer limit')
  const stuck = sim.engine
    .list()
    .filter((r) => r.state === 'rolling' || r.state === 'paused' || r.state === 'planned')
  if (stuck.length > 0)
    throw new Error(
      `rollouts stuck with no timer left: ${stuck.map((r) => `${r.id} ${r.state}/${r.phase}`).join(', ')}`,
    )
  return { sim, fleet, ids }
}
