/**
 * createCoordinator: the engine behind an HTTP API and an SSE stream. Four
 * steps: parse the options, build the runtime (the memory store's, or a
 * replica on Redis: it owns the engine), build the app, and the lifecycle
 * (listen, shutdown, close).
 */
import { EventEmitter } from 'node:events'
import type { ServerType } from '@hono/node-server'
import { resolveSecrets, type Secrets } from '../config/load.js'
import { type Config, type ConfigInput, configSchema } from '../config/schema.js'
import type { Engine, GateContext, GateResult } from '../invalidation/engine.js'
import { newEpoch } from '../invalidation/ids.js'
import { realClock } from '../limiter/clock.js'
import type { Clock, Timer } from '../model/clock.js'
import { DEV_KID, DEV_SIGNING_KEY } from '../protocol/dev-key.js'
import { parseOptions } from '../validate.js'
import { Admission } from './admission.js'
import { createApp } from './app.js'
import { Auth } from './auth.js'
import type { Connections } from './connections.js'
import { type App, createContext } from './context.js'
import { FleetTracker, FORGET_AFTER_MS } from './fleet.js'
import { StreamHub } from './hub.js'
import { type CoordinatorState, inspectState } from './inspect.js'
import { bind, closeServer, type Listening } from './listen.js'
import { createSigner, goawayFrame } from './log.js'
import { createMetrics } from './metrics.js'
import { Recall } from './recall.js'
import { redisRuntime } from './replica/replica.js'
import { coordinatorRewarmLoop } from './rewarm.js'
import { RewarmLedger } from './rewarm-ledger.js'
import { engineOf, type Runtime, type RuntimeParts } from './runtime.js'
import { memoryRuntime } from './runtime-memory.js'
import { Settings } from './settings.js'

export type { Listening } from './listen.js'

export interface CoordinatorOptions {
  /** Parsed or raw config (validated here). @default all defaults */
  readonly config?: ConfigInput
  /** Tokens and signing keys; default: resolved from `config` and the environment. */
  readonly secrets?: Secrets
  readonly clock?: Clock
  readonly random?: () => number
  /** Health gate between waves. @default always pass */
  readonly gate?: (ctx: GateContext) => GateResult
  /** Where notices go (loopback-only, dev key). @default stderr */
  readonly log?: (line: string) => void
  /** Collect Node process metrics too. @default true */
  readonly processMetrics?: boolean
}

export interface CoordinatorEvents {
  /** A new stream passed admission control. */
  admitted: [info: { clientId: string; at: number }]
  /** A new stream was refused (503 + Retry-After). */
  refused: [info: { clientId: string; at: number; retryAfterMs: number }]
}

export interface Coordinator {
  readonly app: App
  /** The engine (on a Redis follower: throws, the leader has it). */
  readonly engine: Engine
  /** Observability hooks (admissions); metrics carry the same counts. */
  readonly events: EventEmitter<CoordinatorEvents>
  /** Cut one client's stream (it reconnects and resumes); false if not connected here. */
  kick(clientId: string): boolean
  readonly config: () => Config
  /**
   * Bind and serve. Refuses a non-loopback host without auth tokens and
   * signing keys. On Redis, resolves once started, or — if Redis cannot be
   * reached within a few seconds — once it has said so: it keeps trying in
   * the background (readiness and the API answer 503 meanwhile).
   */
  listen(at?: { host?: string; port?: number }): Promise<Listening>
  /** Stop admitting, tell every stream to come back later (jittered), close. */
  shutdown(reason?: string): Promise<void>
  /** Close at once. */
  close(): Promise<void>
  /**
   * @internal Everything a request can change, as plain data (for tests and
   * debugging; not a stable API). Memory store only: on Redis, what lives in
   * the store is left out.
   */
  inspect(): Promise<CoordinatorState>
}

/** How often clients gone for good are looked for. */
const SWEEP_EVERY_MS = 60_000

export const createCoordinator = (opts: CoordinatorOptions = {}): Coordinator => {
  // 1. The options, parsed once.
  const initial = parseOptions(configSchema, opts.config ?? {})
  const secrets = opts.secrets ?? resolveSecrets(initial, process.env)
  const notice = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const clock = opts.clock ?? realClock
  const random = opts.random ?? Math.random
  const signing = secrets.signing ?? { activeKid: DEV_KID, keys: { [DEV_KID]: DEV_SIGNING_KEY } }
  let current = initial
  let closed = false
  let listening: Listening | undefined
  let server: ServerType | undefined
  let connections: Connections | undefined

  // 2. The runtime: it owns the engine (here, or on Redis while this replica leads).
  const metrics = createMetrics({ defaults: opts.processMetrics !== false })
  // One signer for every stream message, on either store: each signature counted once.
  const epoch = newEpoch(clock.now(), random)
  const signer = createSigner(initial.fleet, signing, epoch, () => metrics.eventsSigned.inc())
  const fleet = new FleetTracker()
  const hub: StreamHub = new StreamHub({
    pingMs: initial.stream.pingMs,
    now: () => clock.now(),
    maxBufferedBytes: initial.stream.maxBufferedBytes,
    maxBufferedTotalBytes: initial.stream.maxBufferedTotalBytes,
    onClose: (clientId) => {
      if (!closed) runtime.disconnected(clientId)
      metrics.streams.set(hub.size)
    },
    onCut: (reason, clientIds) => {
      metrics.streamsCut.inc({ reason }, clientIds.length)
      // Many stuck clients at once is news; one slow client is not (the counter says it).
      if (reason === 'total')
        notice(
          `slew: ${clientIds.length} stream(s) cut: all streams held more than stream.maxBufferedTotalBytes unsent (${initial.stream.maxBufferedTotalBytes} bytes); they resume from the log`,
        )
    },
  })
  const admission = new Admission(initial.admission, clock, random)
  const recall = new Recall({ fleet: initial.fleet, keys: signing.keys, epoch: () => signer.epoch })
  const adopt = (next: Config) => {
    admission.reconfigure(next.admission)
    current = next
  }
  const parts: RuntimeParts = {
    config: initial,
    current: () => current,
    signer,
    clock,
    random,
    hub,
    fleet,
    metrics,
    admission,
    recall,
    gate: opts.gate,
    notice,
    url: () => listening?.url,
    adopt,
  }
  const runtime: Runtime =
    initial.store.kind === 'memory' ? memoryRuntime(parts) : redisRuntime(parts)
  const settings = new Settings(
    initial,
    (next) => {
      runtime.configure(next)
      adopt(next)
    },
    clock.now(),
  )
  const rewarm = coordinatorRewarmLoop({ runtime, current: () => current, fleet, clock, metrics })
  rewarm.start()
  // Clients gone for an hour (not connected here, not heard from) are forgotten.
  let sweeping: Timer | undefined
  const sweep = () => {
    const now = clock.now()
    fleet.sweep((id, at) => hub.has(id) || (at !== undefined && now - at < FORGET_AFTER_MS))
    sweeping = clock.setTimer(SWEEP_EVERY_MS, sweep)
  }
  sweeping = clock.setTimer(SWEEP_EVERY_MS, sweep)
  const ledger = new RewarmLedger(runtime.store, {
    now: () => clock.now(),
    ttlMs: () => current.rewarm.checkpointTtlMs,
    staleAfterMs: () => current.rewarm.staleAfterMs,
  })
  const state = { shuttingDown: false }
  const events = new EventEmitter<CoordinatorEvents>()
  const auth = new Auth(secrets.tokens)
  const own = { events, runtime, rewarm, ledger, auth, settings, state }
  const ctx = createContext(parts, { ...own, connections: () => connections })

  // 3. The app.
  const app = createApp(ctx)

  // 4. The lifecycle.
  const listen = async (at: { host?: string; port?: number } = {}): Promise<Listening> => {
    listening = await bind({
      app,
      host: at.host ?? current.listen.host,
      port: at.port ?? current.listen.port,
      limits: current.limits,
      metrics,
      notice,
      tokens: auth.enabled,
      signing: secrets.signing !== undefined,
      connections: (c) => {
        connections = c
      },
      server: (s) => {
        server = s
      },
    })
    await runtime.start()
    return listening
  }
  const close = async () => {
    if (closed) return
    closed = true
    sweeping?.cancel()
    rewarm.stop()
    await runtime.close()
    hub.close()
    if (server) await closeServer(server)
  }
  const shutdown = async (reason = 'shutdown') => {
    state.shuttingDown = true
    // Spread the returns over at least the time admission needs to let them all back in.
    const spreadMs = Math.max(
      current.stream.drainMs,
      (hub.size / current.admission.ratePerSec) * 1000,
    )
    hub.endAll(() => goawayFrame(reason, Math.round(random() * spreadMs)))
    await close()
  }
  const kick = (clientId: string) => {
    const conn = hub.get(clientId)
    conn?.res.destroy()
    return conn !== undefined
  }
  const inspect = () =>
    inspectState({
      engine: runtime.engine,
      hub,
      fleet,
      admission,
      runtime,
      settings,
      rewarm,
      ledger,
      config: current,
      ledgerStore: runtime.store,
      shuttingDown: state.shuttingDown,
    })
  return {
    app,
    get engine() {
      return engineOf(runtime)
    },
    events,
    kick,
    config: () => current,
    listen,
    shutdown,
    close,
    inspect,
  }
}
