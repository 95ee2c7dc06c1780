/** What every route can reach: the engine and the coordinator's own parts. */

import type { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import type { HttpBindings } from '@hono/node-server'
import type { Hono } from 'hono'
import type { Config } from '../config/schema.js'
import type { Engine } from '../invalidation/engine.js'
import type { Clock } from '../model/clock.js'
import type { Signed } from '../protocol/sign.js'
import type { RewarmLoop } from '../warmup/rewarm-loop.js'
import type { Admission } from './admission.js'
import type { Auth, Caller } from './auth.js'
import type { Connections } from './connections.js'
import type { CoordinatorEvents } from './coordinator.js'
import type { FleetTracker } from './fleet.js'
import type { StreamHub } from './hub.js'
import { signFor } from './log.js'
import type { Metrics } from './metrics.js'
import type { Recall } from './recall.js'
import type { RewarmLedger } from './rewarm-ledger.js'
import { engineOf, type Runtime, type RuntimeParts } from './runtime.js'
import type { Settings } from './settings.js'

export interface Ctx {
  readonly events: EventEmitter<CoordinatorEvents>
  /** The engine; on a Redis follower, reading it throws (engine routes are proxied to the leader). */
  readonly engine: Engine
  readonly runtime: Runtime
  readonly rewarm: RewarmLoop
  /** What clients prove after this coordinator's state was lost. */
  readonly recall: Recall
  /** Rewarm checkpoints, in the store. */
  readonly ledger: RewarmLedger
  readonly auth: Auth
  readonly metrics: Metrics
  readonly fleet: FleetTracker
  readonly hub: StreamHub
  readonly admission: Admission
  readonly clock: Clock
  readonly settings: Settings
  readonly config: () => Config
  /** Sign a message for clients with the active key, as the stream's are (fleet and version added). */
  readonly sign: <T extends object>(
    message: T,
  ) => T & Signed & { v: 1; fleet: string; epoch: string }
  /** The epoch this coordinator signs in (the lineage of its state). */
  readonly epoch: () => string
  readonly state: { shuttingDown: boolean }
  /** This connection carries a stream now: the connection caps leave it be. */
  readonly streamOpened: (socket: Socket) => void
}

export type Env = { Bindings: HttpBindings; Variables: { caller: Caller } }
export type App = Hono<Env>

/** What the routes get: the runtime's parts, and the coordinator's own. */
export const createContext = (
  p: RuntimeParts,
  o: Pick<Ctx, 'events' | 'runtime' | 'rewarm' | 'ledger' | 'auth' | 'settings' | 'state'> & {
    /** The connection caps, once listening. */
    readonly connections: () => Connections | undefined
  },
): Ctx => {
  const { connections, ...own } = o
  return {
    ...own,
    get engine() {
      return engineOf(o.runtime)
    },
    recall: p.recall,
    metrics: p.metrics,
    fleet: p.fleet,
    hub: p.hub,
    admission: p.admission,
    clock: p.clock,
    config: p.current,
    sign: (message) => signFor(p.signer, message),
    epoch: () => p.signer.epoch,
    streamOpened: (socket) => connections()?.stream(socket),
  }
}
