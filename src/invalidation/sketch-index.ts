/**
 * Key sketches of one shape (m bits, k probes) held bit-sliced, so the
 * clients that may hold a key are found with k word reads per 32 clients
 * rather than k probes per client (the layout of bit-sliced signature
 * files; BitFunnel is a recent use). Slots are grouped 32 to a block;
 * block b is m words, and bit j of its word p says whether slot 32b + j
 * has bit p set. A key's k positions are the same in every filter of the
 * shape, so its holders in a block are the AND of k words. Writing a
 * filter touches its m words (one bit each); adding a key, k.
 */
import type { KeySketch } from './sketch.js'

/** The k bit positions of a key with hashes (h1, h2) in a filter of m bits (as sketch.ts probes). */
export const positionsOf = (
  m: number,
  k: number,
  [h1, h2]: readonly [number, number],
): Uint32Array => {
  const out = new Uint32Array(k)
  for (let i = 0; i < k; i++) out[i] = ((h1 + Math.imul(i, h2)) >>> 0) % m
  return out
}

export class SketchShape {
  /** Slot → client id (undefined: free). */
  readonly #ids: (string | undefined)[] = []
  readonly #free: number[] = []
  #data = new Uint32Array(0)
  /** Per block: the slots whose sketch is in use (fresh). */
  #active = new Uint32Array(0)
  #used = 0

  constructor(
    readonly m: number,
    readonly k: number,
  ) {}

  /** Slots taken (fresh or not). */
  get used(): number {
    return this.#used
  }

  /** A slot for `id`, its column clear. */
  alloc(id: string): number {
    this.#used++
    const reused = this.#free.pop()
    if (reused !== undefined) {
      this.#ids[reused] = id
      return reused
    }
    const slot = this.#ids.length
    this.#ids.push(id)
    const blocks = (slot >>> 5) + 1
    if (blocks > this.#active.length) {
      const cap = Math.max(4, this.#active.length * 2)
      const data = new Uint32Array(cap * this.m)
      data.set(this.#data)
      this.#data = data
      const active = new Uint32Array(cap)
      active.set(this.#active)
      this.#active = active
    }
    return slot
  }

  /** Free the slot, its column cleared for the next. */
  release(slot: number): void {
    this.#writeColumn(slot, undefined)
    this.setActive(slot, false)
    this.#ids[slot] = undefined
    this.#free.push(slot)
    this.#used--
  }

  /** The slot's column becomes `filter` (of this shape). */
  write(slot: number, filter: KeySketch): void {
    this.#writeColumn(slot, filter.bits)
  }

  /** Set the slot's bits at each of these positions lists (keys added since its filter). */
  add(slot: number, positions: readonly Uint32Array[]): void {
    const base = (slot >>> 5) * this.m
    const mask = 1 << (slot & 31)
    for (const ps of positions) for (const p of ps) this.#data[base + p]! |= mask
  }

  setActive(slot: number, on: boolean): void {
    const mask = 1 << (slot & 31)
    if (on) this.#active[slot >>> 5]! |= mask
    else this.#active[slot >>> 5]! &= ~mask
  }

  /** May the slot's filter hold a key at these positions? (Active or not.) */
  mayHold(slot: number, positions: Uint32Array): boolean {
    const base = (slot >>> 5) * this.m
    const mask = 1 << (slot & 31)
    for (const p of positions) if ((this.#data[base + p]! & mask) === 0) return false
    return true
  }

  /** The clients of active slots whose filter may hold any of the keys (one positions list per key). */
  holders(keys: readonly Uint32Array[], out: string[]): void {
    const m = this.m
    const data = this.#data
    const blocks = (this.#ids.length + 31) >>> 5
    for (let b = 0; b < blocks; b++) {
      const active = this.#active[b]!
      if (active === 0) continue
      const base = b * m
      let any = 0
      for (const ps of keys) {
        let w = active
        for (let i = 0; i < ps.length && w !== 0; i++) w &= data[base + ps[i]!]!
        any |= w
      }
      while (any !== 0) {
        const low = any & -any
        out.push(this.#ids[(b << 5) + (31 - Math.clz32(low))]!)
        any ^= low
      }
    }
  }

  #writeColumn(slot: number, bits: Uint8Array | undefined): void {
    const data = this.#data
    const base = (slot >>> 5) * this.m
    const mask = 1 << (slot & 31)
    const clear = ~mask
    for (let byte = 0; byte < this.m >>> 3; byte++) {
      const v = bits?.[byte] ?? 0
      const at = base + (byte << 3)
      for (let j = 0; j < 8; j++) {
        if ((v >>> j) & 1) data[at + j]! |= mask
        else data[at + j]! &= clear
      }
    }
  }
}
