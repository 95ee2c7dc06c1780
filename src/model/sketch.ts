/** A key sketch's bounds and wire form, shared by the engine (invalidation/sketch.ts) and the wire. */

/** The most bits a key sketch may have: 8 MiB of filter (a heartbeat's body limit binds first). */
export const MAX_SKETCH_BITS = 8 * 8 * 1024 * 1024
/** The most probes per key. */
export const MAX_SKETCH_PROBES = 16

/** On the wire: `m` bits, `k` probes, the bits as m / 8 bytes in base64url without padding. */
export interface WireSketch {
  readonly m: number
  readonly k: number
  readonly bits: string
}
