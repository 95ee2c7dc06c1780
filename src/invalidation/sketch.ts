/**
 * A client's key sketch: a Bloom filter of the keys its cache holds, so a
 * change to one or a few keys goes only to the clients that may hold them.
 * Never a false negative (a key added is always "may hold"); a false
 * positive costs one frame. Sized for `n` keys at a false-positive rate
 * `fpr`: m = −n·ln(fpr) ÷ ln²2 bits and k = (m ÷ n)·ln 2 probes, the
 * standard optimum (about 9.6 bits a key at 1 %).
 *
 * Hashing is part of the wire contract (the SDK builds, the coordinator
 * probes): two 32-bit FNV-1a hashes over the key's UTF-16 code units, with
 * offset bases 0x811c9dc5 and 0x01000193 ^ 0x5bd1e995, each finished by an
 * xor-shift-multiply (see keyHashes); probe i is bit (h1 + i·h2) mod 2³² mod
 * m, h2 made odd (Kirsch and Mitzenmacher's double hashing). Bit b is bit
 * (b mod 8) of byte ⌊b ÷ 8⌋.
 */
import { InvalidOptionError } from '../errors.js'
import { MAX_SKETCH_BITS, MAX_SKETCH_PROBES, type WireSketch } from '../model/sketch.js'
import { fnv1a32From } from './shard.js'

export interface KeySketch {
  /** Bits in the filter (a multiple of 8). */
  readonly m: number
  /** Probes per key. */
  readonly k: number
  readonly bits: Uint8Array
}

/** The two hashes of `key` (h2 odd), computed once however many sketches it is probed in. */
export const keyHashes = (key: string): readonly [number, number] => {
  let h1 = fnv1a32From(0x811c9dc5, key)
  let h2 = fnv1a32From(0x01000193 ^ 0x5bd1e995, key)
  // Mix the last bytes through (FNV-1a alone leaves the low bits of short keys close).
  h1 ^= h1 >>> 15
  h1 = Math.imul(h1, 0x2c1b3c6d)
  h1 ^= h1 >>> 12
  h2 ^= h2 >>> 13
  h2 = Math.imul(h2, 0x297a2d39)
  h2 ^= h2 >>> 15
  return [h1 >>> 0, (h2 | 1) >>> 0]
}

/**
 * Bits and probes for `n` keys at false-positive rate `fpr` (at least 64
 * bits, at most `maxBits`: past it the rate rises, and k is chosen for the
 * bits there are).
 */
export const sketchSize = (
  n: number,
  fpr: number,
  maxBits = MAX_SKETCH_BITS,
): { m: number; k: number } => {
  if (!(fpr > 0 && fpr < 1)) throw new InvalidOptionError('fpr', 'a rate in (0, 1)', fpr)
  const keys = Math.max(1, n)
  const ideal = Math.ceil((-keys * Math.log(fpr)) / Math.LN2 ** 2)
  const cap = Math.max(64, Math.floor(Math.min(maxBits, MAX_SKETCH_BITS) / 8) * 8)
  const m = Math.min(cap, Math.max(64, Math.ceil(ideal / 8) * 8))
  const k = Math.min(MAX_SKETCH_PROBES, Math.max(1, Math.round((m / keys) * Math.LN2)))
  return { m, k }
}

/** The false-positive rate of a sketch of `m` bits and `k` probes holding `n` keys. */
export const sketchFpr = (m: number, k: number, n: number): number =>
  (1 - Math.exp((-k * n) / m)) ** k

export const emptySketch = (m: number, k: number): KeySketch => {
  checkShape(m, k)
  return { m, k, bits: new Uint8Array(m / 8) }
}

/**
 * Bits and probes for `n` keys at `fpr` on a ladder of sizes: m the power
 * of two at or above the ideal (at least 64 bits, at most the largest power
 * of two within `maxBits`), and k for `fpr` itself (log2 ÷ fpr, the optimum
 * at the ideal size; the rate is lower on the larger m). Filters of one
 * size and k are indexed together on the coordinator (sketch-index.ts): a
 * fleet whose caches differ in size by 2× shares a shape, where exact sizes
 * would give each client a shape of its own. Costs up to 2× the ideal bits.
 * Past the cap, k is chosen for the bits there are.
 */
export const ladderSize = (
  n: number,
  fpr: number,
  maxBits = MAX_SKETCH_BITS,
): { m: number; k: number } => {
  const ideal = sketchSize(n, fpr, MAX_SKETCH_BITS)
  const limit = Math.max(64, Math.min(maxBits, MAX_SKETCH_BITS))
  const cap = 2 ** Math.floor(Math.log2(limit))
  const m = Math.min(cap, Math.max(64, 2 ** Math.ceil(Math.log2(ideal.m))))
  if (m < ideal.m) return sketchSize(n, fpr, m)
  const k = Math.min(MAX_SKETCH_PROBES, Math.max(1, Math.round(-Math.log2(fpr))))
  return { m, k }
}

/** A sketch of `keys`, sized for `n` of them (default: as many as given) at `fpr`, in at most `maxBits`. */
export const buildSketch = (
  keys: Iterable<string>,
  fpr: number,
  n?: number,
  maxBits?: number,
): KeySketch => {
  const list = n === undefined ? [...keys] : keys
  const count = n ?? (list as string[]).length
  return fillSketch(list, sketchSize(count, fpr, maxBits))
}

/** A sketch of `keys` in the given shape (from sketchSize or ladderSize). */
export const fillSketch = (keys: Iterable<string>, shape: { m: number; k: number }): KeySketch => {
  const s = emptySketch(shape.m, shape.k)
  for (const key of keys) addKey(s, key)
  return s
}

export const addKey = (s: KeySketch, key: string): void => {
  const [h1, h2] = keyHashes(key)
  for (let i = 0; i < s.k; i++) {
    const b = (h1 + Math.imul(i, h2)) >>> 0
    const bit = b % s.m
    s.bits[bit >>> 3]! |= 1 << (bit & 7)
  }
}

/** May the sketch's client hold the key with these hashes? (Never false for a key added.) */
export const mayHoldHashed = (s: KeySketch, [h1, h2]: readonly [number, number]): boolean => {
  for (let i = 0; i < s.k; i++) {
    const bit = ((h1 + Math.imul(i, h2)) >>> 0) % s.m
    if ((s.bits[bit >>> 3]! & (1 << (bit & 7))) === 0) return false
  }
  return true
}

export const mayHold = (s: KeySketch, key: string): boolean => mayHoldHashed(s, keyHashes(key))

/** The share of bits set (a filter past about one half is past its sized load). */
export const sketchFill = (s: KeySketch): number => {
  let set = 0
  for (const byte of s.bits) {
    let b = byte
    while (b !== 0) {
      b &= b - 1
      set++
    }
  }
  return set / s.m
}

export const encodeSketch = (s: KeySketch): WireSketch => ({
  m: s.m,
  k: s.k,
  bits: Buffer.from(s.bits.buffer, s.bits.byteOffset, s.bits.byteLength).toString('base64url'),
})

/** A sketch from the wire; throws InvalidOptionError if its shape does not hold together. */
export const decodeSketch = (w: WireSketch): KeySketch => {
  checkShape(w.m, w.k)
  const bits = new Uint8Array(Buffer.from(w.bits, 'base64url'))
  if (bits.byteLength !== w.m / 8) {
    throw new InvalidOptionError('sketch.bits', `${w.m / 8} bytes (m / 8)`, bits.byteLength)
  }
  return { m: w.m, k: w.k, bits }
}

const checkShape = (m: number, k: number): void => {
  if (!Number.isSafeInteger(m) || m < 8 || m % 8 !== 0 || m > MAX_SKETCH_BITS) {
    throw new InvalidOptionError('sketch.m', `a multiple of 8 in [8, ${MAX_SKETCH_BITS}]`, m)
  }
  if (!Number.isSafeInteger(k) || k < 1 || k > MAX_SKETCH_PROBES) {
    throw new InvalidOptionError('sketch.k', `an integer in [1, ${MAX_SKETCH_PROBES}]`, k)
  }
}
