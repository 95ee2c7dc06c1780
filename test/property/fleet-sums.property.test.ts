/**
 * The registry's running sums and its plain/sketched split, against a pass
 * over the clients, through any sequence of joins, leaves, reports,
 * restores, forgets and sketch flips:
 *
 * - keysCost(keys) equals Σ over live clients of min(keys, entries) (touched),
 *   entries, and max(1, min(keys, entries, most)) (units), a client that has
 *   not reported counting as `fallback` entries;
 * - the plain live clients are exactly the live ones without a fresh sketch,
 *   and sketchedLiveCount counts the others.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { Registry, SMALL_ENTRIES } from '../../src/invalidation/registry.js'
import { params } from './runs.js'

const idArb = fc.integer({ min: 0, max: 11 }).map((i) => `c${i}`)
const entriesArb = fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 5000 }))

const opArb = fc.oneof(
  fc.record({
    op: fc.constant('join' as const),
    id: idArb,
    entries: fc.option(entriesArb, { nil: undefined }),
  }),
  fc.record({ op: fc.constant('leave' as const), id: idArb }),
  fc.record({ op: fc.constant('report' as const), id: idArb, entries: entriesArb }),
  fc.record({
    op: fc.constant('restore' as const),
    id: idArb,
    entries: fc.option(entriesArb, { nil: undefined }),
    live: fc.boolean(),
  }),
  fc.record({ op: fc.constant('forget' as const), id: idArb }),
  fc.record({ op: fc.constant('sketch' as const), id: idArb, on: fc.boolean() }),
)

describe('registry sums', () => {
  it('keep keysCost and the plain/sketched split equal to a pass over the clients', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 10, maxLength: 60 }),
        fc.integer({ min: 1, max: SMALL_ENTRIES }),
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 1, max: 100 }),
        (ops, keys, fallback, most) => {
          const reg = new Registry()
          // Sketch flags outlive a client (as the engine's sketches do) until it is forgotten.
          const sketched = new Set<string>()
          for (const o of ops) {
            if (o.op === 'join') reg.join(o.id, o.entries, 0)
            else if (o.op === 'leave') reg.leave(o.id)
            else if (o.op === 'report') reg.report(o.id, o.entries, 0)
            else if (o.op === 'restore') {
              reg.restore({ id: o.id, entries: o.entries, live: o.live, firstSeq: 0 })
              sketched.delete(o.id)
            } else if (o.op === 'forget') {
              reg.forget(o.id)
              sketched.delete(o.id)
            } else {
              reg.setSketched(o.id, o.on)
              if (o.on) sketched.add(o.id)
              else sketched.delete(o.id)
            }
            const live = [...reg.all()].filter((c) => c.live)
            let touched = 0
            let entries = 0
            let units = 0
            for (const c of live) {
              const e = c.entries ?? fallback
              touched += Math.min(keys, e)
              entries += e
              units += Math.min(Math.max(1, Math.min(keys, e)), most)
            }
            expect(reg.keysCost(keys, fallback, most)).toEqual({ touched, entries, units })
            expect(reg.liveCount).toBe(live.length)
            const plain = live.filter((c) => !sketched.has(c.id)).map((c) => c.id)
            expect([...reg.plainLive()].sort()).toEqual(plain.sort())
            expect(reg.sketchedLiveCount).toBe(live.length - plain.length)
          }
        },
      ),
      params(),
    )
  })
})
