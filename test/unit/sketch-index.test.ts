/**
 * The bit-sliced index of one sketch shape against probing each filter
 * alone: across blocks of 32 slots, with slots freed and reused, filters
 * rewritten, keys added, and slots switched off, `holders` lists exactly the
 * active slots whose filter (and added keys) may hold a key.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { addKey, emptySketch, keyHashes, mayHold } from '../../src/invalidation/sketch.js'
import { positionsOf, SketchShape, SLICED_MAX_BITS } from '../../src/invalidation/sketch-index.js'
import { params } from '../property/runs.js'

const KEYS = Array.from({ length: 40 }, (_, i) => `sku:${i}`)
const keySet = fc.uniqueArray(fc.constantFrom(...KEYS), { maxLength: 12 })

const opArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('write' as const), c: fc.nat(99), keys: keySet }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('add' as const), c: fc.nat(99), keys: keySet }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('release' as const), c: fc.nat(99) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('off' as const), c: fc.nat(99), on: fc.boolean() }),
  },
)

/** A filter of `m` bits, k = 3, holding `keys` (the keys are few: a large one stays sparse). */
const filterOf = (keys: readonly string[], m: number) => {
  const f = emptySketch(m, 3)
  for (const key of keys) addKey(f, key)
  return f
}

describe('the sketch index', () => {
  // Small filters: flat for the first 31 slots, bit-sliced from the 32nd. Large ones: flat throughout.
  it.each([
    ['small filters, sliced once a block is full', 64, true],
    ['filters over SLICED_MAX_BITS, kept flat', SLICED_MAX_BITS + 64, false],
  ])('finds exactly the active filters that may hold a key: %s', (_, m, sliced) => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 100, maxLength: 400, size: 'max' }), (ops) => {
        const k = 3
        const shape = new SketchShape(m, k)
        /** Client → its slot, its filter as written plus added, whether active. */
        const held = new Map<
          string,
          { slot: number; filter: ReturnType<typeof emptySketch>; on: boolean }
        >()
        for (const o of ops) {
          const id = `c${o.c}`
          const h = held.get(id)
          if (o.op === 'write') {
            const filter = filterOf(o.keys, m)
            const slot = h?.slot ?? shape.alloc(id)
            shape.write(slot, filter)
            shape.setActive(slot, true)
            held.set(id, { slot, filter, on: true })
          } else if (h && o.op === 'add') {
            shape.add(
              h.slot,
              o.keys.map((key) => positionsOf(m, k, keyHashes(key))),
            )
            for (const key of o.keys) addKey(h.filter, key)
          } else if (h && o.op === 'release') {
            shape.release(h.slot)
            held.delete(id)
          } else if (h && o.op === 'off') {
            shape.setActive(h.slot, o.on)
            h.on = o.on
          }
        }
        expect(shape.used).toBe(held.size)
        if (ops.filter((o) => o.op === 'write').length >= 40 && held.size >= 32)
          expect(shape.sliced).toBe(sliced)
        for (const picked of [[KEYS[0]!], [KEYS[1]!, KEYS[7]!], KEYS.slice(10, 14)]) {
          const out: string[] = []
          shape.holders(
            picked.map((key) => positionsOf(m, k, keyHashes(key))),
            out,
          )
          const want = [...held]
            .filter(([, h]) => h.on && picked.some((key) => mayHold(h.filter, key)))
            .map(([id]) => id)
          expect(out.sort()).toEqual(want.sort())
          for (const [, h] of held) {
            for (const key of picked) {
              expect(shape.mayHold(h.slot, positionsOf(m, k, keyHashes(key)))).toBe(
                mayHold(h.filter, key),
              )
            }
          }
        }
      }),
      params(100),
    )
  })
})
