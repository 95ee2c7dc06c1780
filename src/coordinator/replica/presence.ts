/**
 * The fleet's presence in the store: which replica holds each client's
 * stream. A client counts as connected while that replica is alive (its
 * liveness, a time, is after now); a dead replica's clients are gone.
 */
import type { Store } from '../../store/store.js'
import type { FleetMember } from '../runtime.js'
import type { PresenceRecord } from './restore.js'

export interface Present {
  readonly clientId: string
  /** The record as stored (what a conditional drop compares). */
  readonly raw: string
  readonly record: PresenceRecord
  /** Its replica is alive at the time asked about. */
  readonly alive: boolean
}

/** Every presence record, and whether its replica is alive at `now` (from the replicas' liveness). */
export const presenceOf = (
  presence: Readonly<Record<string, string>>,
  replicas: Readonly<Record<string, number>>,
  now: number,
): Present[] =>
  Object.entries(presence).map(([clientId, raw]) => {
    const record = JSON.parse(raw) as PresenceRecord
    return { clientId, raw, record, alive: (replicas[record.r] ?? 0) > now }
  })

/** Presence as the store holds it now. */
export const readPresence = async (
  store: Pick<Store, 'presence' | 'replicas'>,
  now: number,
): Promise<Present[]> => {
  const [presence, replicas] = await Promise.all([store.presence(), store.replicas()])
  return presenceOf(presence, replicas, now)
}

/** Every connected client, fleet-wide. */
export const fleetMembers = async (
  store: Pick<Store, 'presence' | 'replicas'>,
  now: number,
): Promise<FleetMember[]> =>
  (await readPresence(store, now))
    .filter((p) => p.alive)
    .map((p) => ({ clientId: p.clientId, replica: p.record.r, connectedAt: p.record.at }))

/** How old a fleet size may be (counting reads every presence record). */
const FLEET_SIZE_MAX_AGE_MS = 1000

/** The fleet's size, counted at most once per FLEET_SIZE_MAX_AGE_MS however many heartbeats ask. */
export class FleetSize {
  #last: { at: number; n: Promise<number> } | undefined

  constructor(
    private readonly count: () => Promise<number>,
    private readonly now: () => number,
  ) {}

  get(): Promise<number> {
    const now = this.now()
    if (this.#last === undefined || now - this.#last.at >= FLEET_SIZE_MAX_AGE_MS) {
      const n = this.count()
      const counted = { at: now, n }
      this.#last = counted
      n.catch(() => {
        // A failed count is not kept: the next one asks the store again.
        if (this.#last === counted) this.#last = undefined
      })
    }
    return this.#last.n
  }
}
