/**
 * A client's key sketch on the wire, as its heartbeats carry it: a Bloom
 * filter of the keys it holds (invalidation/sketch.ts tells how it is
 * hashed) and the keys it cached since its last heartbeat.
 */
import { z } from 'zod'
import { MAX_SKETCH_BITS, MAX_SKETCH_PROBES } from '../model/sketch.js'
import { positiveInt } from '../validate.js'

/** The most keys one heartbeat may report added (more: the SDK sends a filter alone). */
export const MAX_ADDED_KEYS = 10_000
/** The longest key a heartbeat may report added (a longer one: the SDK sends a filter alone). */
export const MAX_ADDED_KEY_LENGTH = 1024

/**
 * A client's key sketch (a Bloom filter of the keys it holds: invalidation/sketch.ts
 * tells how it is hashed) and the keys it cached since its last heartbeat. `bits`:
 * m / 8 bytes, base64url without padding.
 */
export const keySketchSchema = z.strictObject({
  filter: z
    .strictObject({
      m: positiveInt().refine((m) => m % 8 === 0 && m <= MAX_SKETCH_BITS, {
        error: `a multiple of 8 up to ${MAX_SKETCH_BITS}`,
      }),
      k: positiveInt().refine((k) => k <= MAX_SKETCH_PROBES, {
        error: `an integer in [1, ${MAX_SKETCH_PROBES}]`,
      }),
      bits: z.string().regex(/^[A-Za-z0-9_-]*$/, { error: 'base64url, no padding' }),
    })
    .refine((f) => f.bits.length === Math.ceil((f.m / 8) * (4 / 3)), {
      path: ['bits'],
      error: 'm / 8 bytes in base64url',
    })
    .optional(),
  added: z
    .array(z.string().min(1).max(MAX_ADDED_KEY_LENGTH))
    .max(MAX_ADDED_KEYS, { error: `at most ${MAX_ADDED_KEYS} keys` })
    .optional(),
})
export type KeySketchUpdate = z.infer<typeof keySketchSchema>
