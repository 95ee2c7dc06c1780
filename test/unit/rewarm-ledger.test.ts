/**
 * The rewarm ledger over a real store: progress polled by many reads the
 * store once a second per change, shows this process's reports at once
 * (written through) and another replica's within the second.
 */
import { describe, expect, it } from 'vitest'
import { RewarmLedger } from '../../src/coordinator/rewarm-ledger.js'
import { MemoryStore } from '../../src/store/memory.js'

describe('rewarm ledger', () => {
  it('reads a change once a second, with its own reports written through', async () => {
    let now = 0
    const store = new MemoryStore(() => now)
    let reads = 0
    const counted = {
      setRewarm: store.setRewarm.bind(store),
      rewarmOf: store.rewarmOf.bind(store),
      rewarm: (id: string) => {
        reads++
        return store.rewarm(id)
      },
    }
    const ledger = new RewarmLedger(counted, {
      now: () => now,
      ttlMs: () => 60_000,
      staleAfterMs: () => 60_000,
    })
    const connected = new Set(['a', 'b'])
    await ledger.record('a', { c1: { done: 1, total: 4, cursor: 1 } })
    expect(await ledger.progress('c1', connected)).toMatchObject({ done: 1, total: 4 })
    // Ours: shown at once, without reading the store again.
    await ledger.record('a', { c1: { done: 3, total: 4, cursor: 3 } })
    expect(await ledger.progress('c1', connected)).toMatchObject({ done: 3, total: 4 })
    expect(reads).toBe(1)
    // Another replica's (written straight to the store): shown once the second is up.
    await store.setRewarm(
      'c1',
      'b',
      JSON.stringify({ done: 2, total: 2, cursor: 2, at: 0 }),
      60_000,
    )
    now = 999
    expect(await ledger.progress('c1', connected)).toMatchObject({ done: 3, total: 4 })
    now = 1000
    expect(await ledger.progress('c1', connected)).toMatchObject({ done: 5, total: 6, clients: 2 })
    expect(reads).toBe(2)
  })
})
