/**
 * The SDK's event-loop lag sampler, on the real loop: a loop blocked for
 * BLOCK_MS makes the sampler's timer fire at least BLOCK_MS − SAMPLE_MS late
 * (it was due within the block), so the p99 of the interval shows it; each
 * reader takes only the samples since its own last take.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { heartbeatSchema } from '../../src/protocol/messages.js'
import { LoopLag, SAMPLE_MS } from '../../src/sdk/loop-lag.js'

const BLOCK_MS = 80

const block = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {}
}

describe('loop lag', () => {
  it('sees a blocked loop, per reader, and fits a heartbeat', async () => {
    const a = new LoopLag()
    const b = new LoopLag()
    try {
      await sleep(5 * SAMPLE_MS)
      a.take()
      block(BLOCK_MS)
      await sleep(3 * SAMPLE_MS)
      const seen = a.take()
      expect(seen.loopDelayP99).toBeGreaterThanOrEqual(BLOCK_MS - SAMPLE_MS - 1)
      expect(seen.loopDelayP50).toBeLessThanOrEqual(seen.loopDelayP99!)
      expect(heartbeatSchema.parse(seen)).toEqual(seen)
      // b has not taken yet: it sees the same block; a, taking again at once, has nothing new.
      expect(b.take().loopDelayP99).toBe(seen.loopDelayP99)
      expect(a.take()).toEqual({})
    } finally {
      a.close()
      b.close()
    }
  })
})
