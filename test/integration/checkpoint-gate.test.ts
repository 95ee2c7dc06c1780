/**
 * Rewarm checkpoints are kept only for rewarms the client was sent (issue
 * 12, item 6), on the memory store as on Redis (replicated/store-growth):
 * 30,000 checkpoints of made-up change ids from a client are counted as
 * refused and none is written; the checkpoint of a rewarm it got is kept;
 * the same rewarm's checkpoint from a client it was not sent to is not.
 * Before the fix all 30,002 were written (the ledger's writes counted them).
 */
import { describe, expect, it } from 'vitest'
import {
  closeAfterAll,
  metricValue,
  openStream,
  post,
  pushKeys,
  scrape,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const closers = closeAfterAll()

describe('rewarm checkpoints on the memory store', () => {
  it('are kept for rewarms the client was sent, and for nothing else', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [1], bakeMs: 0 } })
    closers.push(() => co.close())
    const app = await openStream(url, 'app')
    closers.push(() => app.close())
    const pushed = await pushKeys(url, ['a', 'b', 'c'])
    const { id } = (await pushed.json()) as { id: string }
    await waitFor('the rewarm to reach app', () => app.of('change').length === 1)
    const report = { done: 1, total: 3, cursor: 1 }
    const beat = async (clientId: string, rewarm: Record<string, unknown>) => {
      const res = await post(`${url}/v1/clients/${clientId}/heartbeat`, { rewarm })
      expect(res.status).toBe(200)
    }
    await beat('app', { [id]: report })
    await beat('rogue', { [id]: report })
    for (let i = 0; i < 300; i++)
      await beat(
        'rogue',
        Object.fromEntries(
          Array.from({ length: 100 }, (_, j) => [`chg-made-up-${i}-${j}`, report]),
        ),
      )
    const state = await co.inspect()
    expect(state.rewarm.ledgerWrites).toBe(1)
    expect(Object.keys(state.rewarm.checkpoints[id] ?? {})).toEqual(['app'])
    expect(metricValue(await scrape(url), 'slew_rewarm_checkpoints_refused_total')).toBe(30_001)
    expect((await fetch(`${url}/v1/clients/rogue/rewarm/chg-made-up-0-0`)).status).toBe(404)
    expect((await fetch(`${url}/v1/clients/app/rewarm/${id}`)).status).toBe(200)
  })
})
