/**
 * What the leader's gates decide that every replica must apply to the
 * heartbeats it answers: which clients are paced (the rules) and which
 * config keys' ramps stand still (a paused rollout's). The leader publishes
 * both to the store when they change, in its next commit; a follower reads
 * them each tick. Anything unreadable paces no one and holds nothing.
 */
import type { PaceRule } from '../../gates/pacing.js'
import type { Store } from '../../store/store.js'
import { STATE } from './restore.js'

export class SharedPacing {
  /** The leader's last published, or a follower's last read. */
  #pacing: { json: string; rules: readonly PaceRule[] } = { json: '[]', rules: [] }
  #held: { json: string; keys: readonly string[] } = { json: '[]', keys: [] }

  get rules(): readonly PaceRule[] {
    return this.#pacing.rules
  }

  get heldKeys(): readonly string[] {
    return this.#held.keys
  }

  /** A follower's tick: what the leader published last. */
  async read(store: Pick<Store, 'stateField'>): Promise<void> {
    const pacing = (await store.stateField(STATE.pacing)) ?? '[]'
    if (pacing !== this.#pacing.json) this.#pacing = { json: pacing, rules: parseRules(pacing) }
    const held = (await store.stateField(STATE.heldRamps)) ?? '[]'
    if (held !== this.#held.json) this.#held = { json: held, keys: parseKeys(held) }
  }

  /**
   * A new leader's term: what the last leader published is written over
   * with this term's first commit, whatever it was.
   */
  forget(): void {
    this.#pacing = { json: '', rules: [] }
    this.#held = { json: '', keys: [] }
  }

  /** The leader's rules and held keys, written (through `set`) only when they changed. */
  publish(
    rules: readonly PaceRule[],
    keys: readonly string[],
    set: ((field: string, json: string) => void) | undefined,
  ): void {
    const json = JSON.stringify(rules)
    if (json !== this.#pacing.json) {
      this.#pacing = { json, rules }
      set?.(STATE.pacing, json)
    }
    const held = JSON.stringify(keys)
    if (held !== this.#held.json) {
      this.#held = { json: held, keys }
      set?.(STATE.heldRamps, held)
    }
  }
}

/** The pace rules a leader published; anything unreadable paces no one. */
const parseRules = (json: string): PaceRule[] => {
  try {
    const rules = JSON.parse(json) as unknown
    return Array.isArray(rules) ? (rules as PaceRule[]) : []
  } catch {
    return []
  }
}

/** The held ramp keys a leader published; anything unreadable holds none. */
const parseKeys = (json: string): string[] => {
  try {
    const keys = JSON.parse(json) as unknown
    return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : []
  } catch {
    return []
  }
}
