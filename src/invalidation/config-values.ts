/** The fleet's config as last pushed, and for each config change what undoes it. */
import type { Change } from './change.js'

export interface ConfigUndo {
  /** Keys that had a value before: their previous values. */
  values: Record<string, unknown>
  /** Keys that had no value before. */
  unset: string[]
}

export class ConfigValues {
  readonly #values = new Map<string, unknown>()

  /** Record a config change's values; return what undoes it. */
  apply(change: Pick<Change, 'values' | 'unset'>): ConfigUndo {
    const undo: ConfigUndo = { values: {}, unset: [] }
    for (const k of new Set([...Object.keys(change.values ?? {}), ...(change.unset ?? [])])) {
      if (this.#values.has(k)) undo.values[k] = this.#values.get(k)
      else undo.unset.push(k)
    }
    for (const [k, v] of Object.entries(change.values ?? {})) this.#values.set(k, v)
    for (const k of change.unset ?? []) this.#values.delete(k)
    return undo
  }

  restore(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) this.#values.set(k, v)
  }

  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.#values)
  }
}
