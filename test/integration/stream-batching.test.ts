/**
 * Frames to one stream within one turn of the event loop go out in one
 * write, in order: five changes delivered in one pacer wake reach a client
 * as five events, in sequence order, through one write.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterAll, openStream, startCoordinator, waitFor } from '../helpers/coordinator.js'

const closers = closeAfterAll()

const counter = (text: string, name: string) =>
  Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN)

describe('stream batching', () => {
  it('writes what one stream gets in one turn at once, in order', async () => {
    const { co, url } = await startCoordinator({
      waves: { steps: [1], bakeMs: 0 },
      budgets: { invalidate: { ratePerSec: 10_000, burst: 10_000 } },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const stream = await openStream(url, 'one')
    closers.push(() => stream.close())
    await waitFor('hello', () => stream.of('hello').length === 1)
    const metrics = async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      return {
        frames: counter(text, 'slew_stream_frames_total'),
        writes: counter(text, 'slew_stream_writes_total'),
      }
    }
    const before = await metrics()
    // Five changes in one turn: the pacer delivers each as it is accepted, all before the turn ends.
    const ids = Array.from(
      { length: 5 },
      (_, i) => co.engine.submit({ kind: 'invalidate', target: { keys: [`k${i}`] } }).rollout.id,
    )
    await waitFor('five changes', () => stream.of('change').length === 5)
    const seqs = stream.of('change').map((e) => Number(e.id))
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b))
    expect(stream.of('change').map((e) => JSON.parse(e.data).change.id)).toEqual(ids)
    const after = await metrics()
    expect(after.frames - before.frames).toBe(5)
    expect(after.writes - before.writes).toBe(1)
  })
})
