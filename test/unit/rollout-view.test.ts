/** How `slew status` decides a rewarm is still being fetched (what `--watch` waits for). */
import { describe, expect, it } from 'vitest'
import { REPORT_GRACE_MS, type RolloutJson, rewarming } from '../../src/cli/rollout-view.js'

const rewarm = (
  progress: Partial<NonNullable<RolloutJson['rewarm']>>,
  over: Partial<RolloutJson> = {},
): RolloutJson => ({
  id: 'chg-1',
  state: 'completed',
  phase: 'done',
  change: { kind: 'rewarm', target: { keys: ['a', 'b'] } },
  wave: 0,
  waves: [{ index: 0, queued: 2, delivered: 2, acked: 0 }],
  delivered: 2,
  acked: 0,
  progress: 1,
  rewarm: { keysDone: 0, keysTotal: 0, clientsReporting: 0, ratePerSec: 10, etaMs: 0, ...progress },
  createdAt: 1_000,
  endedAt: 2_000,
  ...over,
})

describe('rewarming', () => {
  it('waits for the clients it reached to report, not only for the keys they reported', () => {
    // Delivered to two clients, neither has reported: 0/0 keys is not "done".
    expect(rewarming(rewarm({}), 2_500)).toBe(true)
    // One reported and finished, the other not yet.
    expect(rewarming(rewarm({ keysDone: 2, keysTotal: 2, clientsReporting: 1 }), 2_500)).toBe(true)
    // Both reported, every key in.
    expect(rewarming(rewarm({ keysDone: 4, keysTotal: 4, clientsReporting: 2 }), 2_500)).toBe(false)
  })

  it('follows keys still to fetch however long it takes', () => {
    const slow = rewarm({ keysDone: 3, keysTotal: 4, clientsReporting: 2 })
    expect(rewarming(slow, 2_000 + 10 * REPORT_GRACE_MS)).toBe(true)
    // Failed and orphaned keys are settled too.
    expect(
      rewarming(
        rewarm({ keysDone: 2, keysFailed: 1, keysOrphaned: 1, keysTotal: 4, clientsReporting: 2 }),
      ),
    ).toBe(false)
  })

  it('stops waiting for a silent client after the grace period', () => {
    const silent = rewarm({ keysDone: 2, keysTotal: 2, clientsReporting: 1 })
    expect(rewarming(silent, 2_000 + REPORT_GRACE_MS - 1)).toBe(true)
    expect(rewarming(silent, 2_000 + REPORT_GRACE_MS)).toBe(false)
  })

  it('is only about completed rewarms', () => {
    expect(rewarming(rewarm({}, { state: 'rolling' }), 2_500)).toBe(false)
    expect(rewarming(rewarm({}, { state: 'aborted' }), 2_500)).toBe(false)
    expect(rewarming({ ...rewarm({}), rewarm: undefined }, 2_500)).toBe(false)
  })
})
