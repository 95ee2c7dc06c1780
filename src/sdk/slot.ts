/**
 * What the SDK's L1 holds per key, sized for caches of millions of entries.
 * A change must turn an entry stale without moving it in the LRU order (an
 * lru-cache `set` would), so each key holds one mutable one-field `Slot`,
 * and what it points at depends on the entry:
 *   - a fresh value, no tags, not read through `get()` yet: the value itself;
 *   - a fresh value with tags, or read through `get()`: a `Fresh` (value,
 *     interned tags, and once read the settled promise a hit hands back, so
 *     a fresh hit allocates nothing);
 *   - an entry a change touched (stale, refreshing, dead) until its refetch
 *     lands fresh: a `Touched`, the full `Entry` of the refresh policy.
 * A refetch that ends with the entry fresh puts the fresh form back (its
 * generations start again from 0 at the next change), so a Touched is fresh
 * only while a refetch of it runs (a reader's hard miss that another refetch beat).
 * `Slot`'s getters read any of them as an `Entry`, for inspection, at no cost per entry.
 */
import type { TokenClass } from '../model/budget.js'
import type { Entry, EntryState } from '../refresh/entry.js'

export const NO_TAGS: readonly string[] = Object.freeze([])

/** A fresh entry with tags, or one read through `get()` (then `settled` is set). */
export class Fresh<V> {
  constructor(
    readonly value: V,
    readonly tags: readonly string[],
    public settled: Promise<V> | undefined,
  ) {}
}

/** An entry a change touched: the refresh policy's `Entry` (every field set: one hidden class), plus its token class. */
export class Touched<V> implements Entry<V> {
  value: V | undefined
  hasValue = true
  state: EntryState = 'fresh'
  tags: readonly string[]
  gen = 0
  valueGen = 0
  invalidatedBy: string | undefined = undefined
  refreshGen: number | undefined = undefined
  cls: TokenClass = 'invalidate'

  constructor(value: V, tags: readonly string[]) {
    this.value = value
    this.tags = tags
  }
}

export type Held<V> = V | Fresh<V> | Touched<V>

/** One per key in the L1's lru-cache; see the top of this file. */
export class Slot<V> implements Readonly<Entry<V>> {
  constructor(public held: Held<V>) {}

  get value(): V | undefined {
    const h = this.held
    return h instanceof Touched ? h.value : h instanceof Fresh ? h.value : h
  }
  get hasValue(): boolean {
    const h = this.held
    return h instanceof Touched ? h.hasValue : true
  }
  get state(): EntryState {
    const h = this.held
    return h instanceof Touched ? h.state : 'fresh'
  }
  get tags(): readonly string[] {
    const h = this.held
    return h instanceof Touched || h instanceof Fresh ? h.tags : NO_TAGS
  }
  get gen(): number {
    const h = this.held
    return h instanceof Touched ? h.gen : 0
  }
  get valueGen(): number {
    const h = this.held
    return h instanceof Touched ? h.valueGen : 0
  }
  get invalidatedBy(): string | undefined {
    const h = this.held
    return h instanceof Touched ? h.invalidatedBy : undefined
  }
  get refreshGen(): number | undefined {
    const h = this.held
    return h instanceof Touched ? h.refreshGen : undefined
  }
}

/** The fresh form of `value` with `tags` (interned): the value itself when it has none. */
export const fresh = <V>(value: V, tags: readonly string[]): Held<V> =>
  tags.length === 0 && !(value instanceof Fresh) && !(value instanceof Touched)
    ? value
    : new Fresh(value, tags, undefined)

/** Is the slot's entry fresh? */
export const isFresh = <V>(s: Slot<V> | undefined): boolean => {
  if (s === undefined) return false
  const h = s.held
  return !(h instanceof Touched) || h.state === 'fresh'
}

/** The value of a fresh `held` (not a Touched). */
export const freshValue = <V>(h: V | Fresh<V>): V => (h instanceof Fresh ? h.value : h)

/** The settled promise of a fresh slot's value: made on its first read, then kept. */
export const settle = <V>(s: Slot<V>, h: V | Fresh<V>): Promise<V> => {
  if (h instanceof Fresh) {
    h.settled ??= Promise.resolve(h.value)
    return h.settled
  }
  const f = new Fresh(h, NO_TAGS, Promise.resolve(h))
  s.held = f
  return f.settled!
}

/** The slot's Touched entry, made from its fresh value if a change has not touched it yet. */
export const touch = <V>(s: Slot<V>): Touched<V> => {
  const h = s.held
  if (h instanceof Touched) return h
  const e = new Touched(freshValue(h), h instanceof Fresh ? h.tags : NO_TAGS)
  s.held = e
  return e
}

/** A refetch of `e` ended: if the slot's entry is fresh, keep only its fresh form. */
export const landed = <V>(s: Slot<V>, e: Touched<V>): void => {
  if (e.state === 'fresh' && s.held === e) s.held = fresh(e.value as V, e.tags)
}

const same = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((t, i) => t === b[i])

/**
 * Tags, interned: entries set with equal tags share one frozen array (an
 * app that builds `['tenant:7']` per call stores it once). At most `max`
 * distinct sets are remembered; past that the table starts over, so tags
 * unique per entry cost no more than a copy each.
 */
export const tagSets = (max = 4096) => {
  const known = new Map<string, readonly string[]>()
  return function intern(tags: readonly string[]): readonly string[] {
    if (tags.length === 0) return NO_TAGS
    const id = tags.length === 1 ? tags[0]! : tags.join('\u0000')
    const had = known.get(id)
    if (had !== undefined && same(had, tags)) return had
    const copy = Object.freeze([...tags])
    // A different set under the same id (a tag holding the separator) is kept, not interned.
    if (had === undefined) {
      if (known.size >= max) known.clear()
      known.set(id, copy)
    }
    return copy
  }
}
