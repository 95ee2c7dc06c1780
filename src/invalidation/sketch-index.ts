/**
 * Key sketches of one shape (m bits, k probes), held so that the clients
 * that may hold a key are found cheaply. Two layouts:
 *
 * - **bit-sliced**, once a shape has a block's worth of clients (32) and
 *   its filters are at most SLICED_MAX_BITS: slots are grouped 32 to a
 *   block; block b is m words, and bit j of its word p says whether slot
 *   32b + j has bit p set. A key's k positions are the same in every filter
 *   of the shape, so its holders in a block are the AND of k words: k word
 *   reads per 32 clients (the layout of bit-sliced signature files;
 *   BitFunnel is a recent use). Writing a filter touches its m words.
 * - **flat** otherwise: each slot's filter as sent, probed one by one (k
 *   reads a client). A shape of a few clients sliced would take a whole
 *   block (32 filters' worth of memory) per client; and a filter larger
 *   than SLICED_MAX_BITS costs more to write into the slices (m words,
 *   every update) than probing it costs at any push rate it is likely to
 *   see.
 */
import type { KeySketch } from './sketch.js'

/** Filters larger than this stay flat (2^17 bits: 16 KiB, about 13,000 keys at 1 %). */
export const SLICED_MAX_BITS = 1 << 17
/** A shape is sliced once it has this many slots (one block). */
const SLICE_AT = 32

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
  /** Flat: slot → its filter's bits (m / 8 bytes). Undefined once sliced. */
  #flat: (Uint8Array | undefined)[] | undefined = []
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

  /** Bit-sliced (true) or flat. */
  get sliced(): boolean {
    return this.#flat === undefined
  }

  /** A slot for `id`, its filter clear. */
  alloc(id: string): number {
    this.#used++
    const reused = this.#free.pop()
    if (reused !== undefined) {
      this.#ids[reused] = id
      if (this.#flat) this.#flat[reused] = new Uint8Array(this.m >>> 3)
      return reused
    }
    const slot = this.#ids.length
    this.#ids.push(id)
    this.#grow((slot >>> 5) + 1)
    if (this.#flat) {
      this.#flat[slot] = new Uint8Array(this.m >>> 3)
      if (this.#ids.length >= SLICE_AT && this.m <= SLICED_MAX_BITS) this.#slice()
    }
    return slot
  }

  /** Free the slot, its filter cleared for the next. */
  release(slot: number): void {
    if (this.#flat) this.#flat[slot] = undefined
    else this.#writeColumn(slot, undefined)
    this.setActive(slot, false)
    this.#ids[slot] = undefined
    this.#free.push(slot)
    this.#used--
  }

  /** The slot's filter becomes `filter` (of this shape). */
  write(slot: number, filter: KeySketch): void {
    if (this.#flat) this.#flat[slot] = new Uint8Array(filter.bits)
    else this.#writeColumn(slot, filter.bits)
  }

  /** Set the slot's bits at each of these positions lists (keys added since its filter). */
  add(slot: number, positions: readonly Uint32Array[]): void {
    const flat = this.#flat?.[slot]
    if (flat) {
      for (const ps of positions) for (const p of ps) flat[p >>> 3]! |= 1 << (p & 7)
      return
    }
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
    const flat = this.#flat?.[slot]
    if (flat) {
      for (const p of positions) if ((flat[p >>> 3]! & (1 << (p & 7))) === 0) return false
      return true
    }
    const base = (slot >>> 5) * this.m
    const mask = 1 << (slot & 31)
    for (const p of positions) if ((this.#data[base + p]! & mask) === 0) return false
    return true
  }

  /** The clients of active slots whose filter may hold any of the keys (one positions list per key). */
  holders(keys: readonly Uint32Array[], out: string[]): void {
    const blocks = (this.#ids.length + 31) >>> 5
    if (this.#flat) {
      for (let b = 0; b < blocks; b++) {
        let active = this.#active[b]!
        while (active !== 0) {
          const low = active & -active
          active ^= low
          const slot = (b << 5) + (31 - Math.clz32(low))
          if (keys.some((ps) => this.mayHold(slot, ps))) out.push(this.#ids[slot]!)
        }
      }
      return
    }
    const m = this.m
    const data = this.#data
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

  /** Room for `blocks` blocks (the slices too, once sliced). */
  #grow(blocks: number): void {
    if (blocks <= this.#active.length) return
    const cap = Math.max(blocks, this.#active.length * 2)
    const active = new Uint32Array(cap)
    active.set(this.#active)
    this.#active = active
    if (!this.#flat) {
      const data = new Uint32Array(cap * this.m)
      data.set(this.#data)
      this.#data = data
    }
  }

  /** From flat to bit-sliced: every slot's filter written into the slices. */
  #slice(): void {
    const flat = this.#flat!
    this.#flat = undefined
    this.#data = new Uint32Array(this.#active.length * this.m)
    flat.forEach((bits, slot) => {
      if (bits) this.#writeColumn(slot, bits)
    })
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
