/**
 * A set of config values as state: one value per key, the change (by seq)
 * that set it, and its size. With `keepUnset`, applying never lets an older
 * change overwrite or revive a key a newer one set or unset (completions
 * come out of order): an unset key leaves a marker, dropped once no older
 * change can still arrive. The values object handed out is built once per
 * version and frozen, so callers may key caches on it.
 */
import { canonicalJson } from '../canonical-json.js'
import type { Change } from '../model/change.js'

export interface ConfigUndo {
  /** Keys that had a value before: their previous values. */
  values: Record<string, unknown>
  /** Keys that had no value before. */
  unset: string[]
}

/** A key unset by the change of `seq`: no value, no size. */
const UNSET = Symbol('unset')

interface Held {
  readonly value: unknown
  /** The change that set it (0: older than anything this engine knows, e.g. restored or adopted). */
  readonly seq: number
  /** Its share of the config's size: `"key":value,` as canonical JSON, in UTF-8 bytes. */
  readonly bytes: number
}

/** Bytes of `"key":value,` in canonical JSON: what one entry adds to the config's size. */
export const entryBytes = (key: string, value: unknown): number =>
  Buffer.byteLength(JSON.stringify(key)) + Buffer.byteLength(canonicalJson(value)) + 2

/** The keys a config change sets or unsets. */
export const keysOf = (change: Pick<Change, 'values' | 'unset'>): string[] => [
  ...new Set([...Object.keys(change.values ?? {}), ...(change.unset ?? [])]),
]

export class ConfigValues {
  readonly #values = new Map<string, Held>()
  #bytes = 2
  #json: Readonly<Record<string, unknown>> | undefined

  constructor(private readonly keepUnset = false) {}

  /** The size of the values as JSON (`{}` is 2), in UTF-8 bytes. */
  get bytes(): number {
    return this.#bytes
  }

  /** The size the values would have after `change` (its values priced once each). */
  bytesAfter(change: Pick<Change, 'values' | 'unset'>): number {
    let bytes = this.#bytes
    for (const k of keysOf(change)) bytes -= this.#values.get(k)?.bytes ?? 0
    for (const [k, v] of Object.entries(change.values ?? {})) bytes += entryBytes(k, v)
    return bytes
  }

  /** The value of `key`, if it has one. */
  has(key: string): boolean {
    const held = this.#values.get(key)
    return held !== undefined && held.value !== UNSET
  }

  /**
   * Record a config change's values, except where a newer change (higher
   * seq) already set or unset the key; return what undoes it.
   */
  apply(change: Pick<Change, 'values' | 'unset' | 'seq'>): ConfigUndo {
    const undo: ConfigUndo = { values: {}, unset: [] }
    for (const k of keysOf(change)) {
      const held = this.#values.get(k)
      if (held && held.value !== UNSET) undo.values[k] = held.value
      else undo.unset.push(k)
    }
    for (const [k, v] of Object.entries(change.values ?? {}))
      if (this.#newer(k, change.seq)) this.#set(k, v, change.seq)
    for (const k of change.unset ?? []) if (this.#newer(k, change.seq)) this.#unset(k, change.seq)
    return undo
  }

  /**
   * Put values back as a snapshot kept them. `seqs`: the change that set
   * each (absent: 0); a key in `seqs` without a value was unset by it.
   */
  restore(values: Record<string, unknown>, seqs: Readonly<Record<string, number>> = {}): void {
    for (const [k, v] of Object.entries(values)) this.#set(k, v, seqs[k] ?? 0)
    if (this.keepUnset)
      for (const [k, seq] of Object.entries(seqs))
        if (!Object.hasOwn(values, k)) this.#unset(k, seq)
  }

  /** The change that set or unset each key (for snapshots; keys of unknown changes left out). */
  seqs(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const [k, h] of this.#values) if (h.seq > 0) out[k] = h.seq
    return out
  }

  /** Drop the marks of keys unset before `seq`: no change older than that can still arrive. */
  forgetUnsetBefore(seq: number): void {
    for (const [k, h] of this.#values) if (h.value === UNSET && h.seq < seq) this.#values.delete(k)
  }

  /** The values, one frozen object per version: the same object until they change. */
  toJSON(): Readonly<Record<string, unknown>> {
    if (!this.#json) {
      const out: Record<string, unknown> = {}
      for (const [k, h] of this.#values) if (h.value !== UNSET) out[k] = h.value
      this.#json = Object.freeze(out)
    }
    return this.#json
  }

  #newer(key: string, seq: number): boolean {
    return (this.#values.get(key)?.seq ?? Number.NEGATIVE_INFINITY) <= seq
  }

  #set(key: string, value: unknown, seq: number): void {
    const bytes = entryBytes(key, value)
    this.#bytes += bytes - (this.#values.get(key)?.bytes ?? 0)
    this.#values.set(key, { value, seq, bytes })
    this.#json = undefined
  }

  #unset(key: string, seq: number): void {
    const held = this.#values.get(key)
    if (!held && !this.keepUnset) return
    this.#bytes -= held?.bytes ?? 0
    if (this.keepUnset) this.#values.set(key, { value: UNSET, seq, bytes: 0 })
    else this.#values.delete(key)
    if (held?.value !== UNSET) this.#json = undefined
  }
}
