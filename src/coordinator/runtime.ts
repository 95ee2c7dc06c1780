/**
 * What differs between one coordinator on the memory store and several on
 * Redis: where admission, leases, the log and the fleet's presence live, and
 * whether the engine runs in this process. Routes talk to a Runtime.
 */
import type { LeaseGrant } from '../invalidation/engine.js'
import type { GcraParams } from '../limiter/gcra.js'
import type { TokenClass } from '../model/budget.js'
import type { Heartbeat } from '../protocol/messages.js'
import type { AdmissionDecision } from './admission.js'

export interface FleetMember {
  readonly clientId: string
  readonly replica?: string
  readonly connectedAt?: number
}

/** A stream just opened: who, and where it resumes from. */
export interface StreamOpen {
  readonly clientId: string
  /** The last sequence number it applied (Last-Event-ID or ?since=). */
  readonly since?: number | undefined
  /** The epoch that sequence number belongs to (?epoch=); absent: assume ours. */
  readonly epoch?: string | undefined
  /** What the client asked its hello to carry (?nonce=). */
  readonly nonce?: string | undefined
  /** Entries in its cache (?entries=). */
  readonly entries?: number | undefined
}

/** Whether this coordinator can do its work now (GET /readyz), and if not, why. */
export type Readiness =
  | { readonly ready: true }
  | { readonly ready: false; readonly reason: string }

export interface Runtime {
  readonly kind: 'memory' | 'redis'
  /** Does the engine run here now (so engine routes are answered here)? */
  readonly leading: boolean
  /** Where the engine runs, when not here (undefined: no leader right now). */
  leaderUrl(): Promise<string | undefined>
  /** Admission control for a new stream (B3). */
  admit(clientId: string): Promise<AdmissionDecision>
  /**
   * The stream is open and in the hub: say hello, catch the client up (the
   * missed entries, a reset, or for a new client the config) and add it to
   * the fleet.
   */
  connected(open: StreamOpen): Promise<void>
  disconnected(clientId: string): void
  /** Refetch tokens (B2). */
  lease(clientId: string, want: number, cls: TokenClass): Promise<LeaseGrant>
  heartbeat(clientId: string, hb: Heartbeat): Promise<void>
  /**
   * May a checkpoint of `changeId` from `clientId` be kept? Only for a rewarm
   * that was sent to it and is not over for longer than `maxAgeMs` (on a
   * Redis follower: a change whose delivered set in the store names it).
   */
  sentRewarm(changeId: string, clientId: string, maxAgeMs: number): Promise<boolean>
  /** The rate and burst `lease` grants `cls` tokens at now (rewarm: the adaptive rate). */
  tokenBudget(cls: TokenClass): GcraParams
  /** Every connected client, fleet-wide. */
  fleet(): Promise<FleetMember[]>
  /** How many clients are connected, fleet-wide: cheap enough to answer every heartbeat with (at most a second old). */
  fleetSize(): Promise<number>
  /** The adaptive rewarm token rate (≤ the budget), set by the leader's control loop. */
  setRewarmRate(ratePerSec: number): void
  /** Resolves once what the engine just did is durable (at once on memory). */
  durable(): Promise<void>
  /** The latest log sequence number known here. */
  seq(): number
  /** Ready to serve: on Redis, the store is reachable and a leader known. */
  readiness(): Promise<Readiness>
  close(): Promise<void>
}
