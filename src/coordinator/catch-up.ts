/**
 * What a client that just connected needs before live messages, decided in
 * one place for every runtime: the fleet's config (a new client), a reset
 * (its resume point is not in the log: trimmed away, or of an epoch whose
 * state is gone) or the log entries after its resume point.
 */
import type { StreamOpen } from './runtime.js'

export type CatchUp =
  | { readonly kind: 'config' }
  | { readonly kind: 'replay'; readonly after: number }
  | { readonly kind: 'reset'; readonly reason: string }

export interface LogPosition {
  /** The epoch this log belongs to. */
  readonly epoch: string
  /** Its last sequence number. */
  readonly last: number
  /** The highest sequence number no longer held (entries after it are all there). */
  readonly floor: number
}

export const catchUp = (open: Pick<StreamOpen, 'since' | 'epoch'>, log: LogPosition): CatchUp => {
  const { since, epoch } = open
  if (since === undefined) return { kind: 'config' }
  if (epoch !== undefined && epoch !== log.epoch)
    return { kind: 'reset', reason: lostReason(epoch, log.epoch) }
  if (since > log.last || since < log.floor)
    return { kind: 'reset', reason: `resume point ${since} is no longer in the log` }
  return { kind: 'replay', after: since }
}

/** Why a client of epoch `was` is reset into epoch `now`. */
export const lostReason = (was: string, now: string): string =>
  `the coordinator's state was lost (epoch ${was} is gone; now ${now})`

/**
 * Whether the client was in the fleet before this epoch's state began (it
 * follows an older epoch): every change of this epoch concerns it.
 */
export const predates = (open: Pick<StreamOpen, 'epoch'>, log: Pick<LogPosition, 'epoch'>) =>
  open.epoch !== undefined && open.epoch !== log.epoch
