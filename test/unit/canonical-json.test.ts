/**
 * Canonical JSON is what signatures and coalescing identities cover, so its
 * text must never change: the iterative version writes exactly what the
 * recursive one did, for any JSON value, and any depth is written without
 * overflowing the stack (a value nested 2,400 deep overflowed it before).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { canonicalJson } from '../../src/canonical-json.js'

/** The recursive version it replaces, kept as the reference. */
const reference = (value: unknown): string => {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${reference(v)}`).join(',')}}`
}

describe('canonicalJson', () => {
  it('writes what the recursive version wrote, for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        expect(canonicalJson(v)).toBe(reference(v))
      }),
      { numRuns: 2000 },
    )
  })

  it('drops undefined members and writes undefined elsewhere as null, as before', () => {
    const odd = { b: undefined, a: [undefined, 1, { z: undefined, y: null }], c: 'é"\n' }
    expect(canonicalJson(odd)).toBe(reference(odd))
    expect(canonicalJson(undefined)).toBe('null')
    expect(canonicalJson({ __proto__: null, x: 1 })).toBe('{"x":1}')
    expect(canonicalJson([[], {}, [[]]])).toBe('[[],{},[[]]]')
  })

  it('writes a value nested 1,000,000 deep without overflowing the stack', () => {
    const depth = 1_000_000
    const deep = JSON.parse(`${'['.repeat(depth)}${']'.repeat(depth)}`) as unknown
    expect(() => reference(deep)).toThrow(RangeError)
    expect(canonicalJson(deep)).toHaveLength(2 * depth)
    let obj: unknown = 1
    for (let i = 0; i < 100_000; i++) obj = { a: obj }
    expect(canonicalJson(obj)).toBe(`${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`)
  })
})
