/**
 * The state of one cached entry under slew's refresh policy:
 *   fresh → stale (servable) → refreshing → fresh;  dead only for hard invalidation.
 * Each invalidation bumps a generation; a refresh that started before the
 * latest invalidation does not make the entry fresh, so an entry is refetched
 * at most once per invalidation and never left fresh with pre-change data.
 * An origin error keeps the stale value (stale-if-error): errors never
 * invalidate.
 */

export type EntryState = 'fresh' | 'stale' | 'refreshing' | 'dead'

export interface Entry<V = unknown> {
  value: V | undefined
  hasValue: boolean
  state: EntryState
  tags: readonly string[]
  /** Bumped by every invalidation that touches the entry. */
  gen: number
  /** Generation the held value answers (an older answer never replaces a newer one). */
  valueGen: number
  /** The change that last invalidated it. */
  invalidatedBy?: string | undefined
  /** Generation the latest refetch started from. */
  refreshGen?: number | undefined
}

/** A fresh entry. Every field is set, so all entries share one shape (one V8 hidden class). */
export const freshEntry = <V>(value: V, tags: readonly string[] = []): Entry<V> => ({
  value,
  hasValue: true,
  state: 'fresh',
  tags,
  gen: 0,
  valueGen: 0,
  invalidatedBy: undefined,
  refreshGen: undefined,
})

/** May a reader be given the value now? */
export const servable = (e: Entry): boolean => e.hasValue && e.state !== 'dead'

/** Apply an invalidation: soft keeps the value (served stale); hard drops it. */
export const invalidateEntry = (e: Entry, changeId: string, mode: 'soft' | 'hard'): void => {
  e.gen++
  e.invalidatedBy = changeId
  if (mode === 'hard') {
    e.state = 'dead'
    e.value = undefined
    e.hasValue = false
  } else if (e.state !== 'dead') {
    // Fresh, or refreshing for an older generation: either way it needs a new refetch.
    e.state = 'stale'
  }
}

/** Does the entry need a refetch: not fresh, and none started for its current generation? */
export const needsRefresh = (e: Entry): boolean => e.state !== 'fresh' && e.refreshGen !== e.gen

/** A refetch starts: remember which generation it answers. */
export const beginRefresh = (e: Entry): number => {
  e.refreshGen = e.gen
  if (e.state === 'stale') e.state = 'refreshing'
  return e.gen
}

/** A refetch returned `value` for generation `gen`. */
export const completeRefresh = <V>(e: Entry<V>, gen: number, value: V): void => {
  if (gen < e.valueGen) return
  e.value = value
  e.hasValue = true
  e.valueGen = gen
  if (e.refreshGen === gen) e.refreshGen = undefined
  // Invalidated again while in flight: servable, but stale until the next refetch.
  e.state = e.gen === gen ? 'fresh' : 'stale'
}

/** A refetch failed: keep serving what we had (stale-if-error); a later access may retry. */
export const failRefresh = (e: Entry, gen: number): void => {
  if (e.refreshGen === gen) e.refreshGen = undefined
  if (e.state === 'refreshing') e.state = 'stale'
}
