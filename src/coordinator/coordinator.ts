/**
 * createCoordinator: the engine behind an HTTP API and an SSE stream, on the
 * embedded memory store. Deliveries the engine paces go into the signed log
 * and out to the named clients' streams; leases and heartbeats come back.
 */
import { EventEmitter } from 'node:events'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { bindIssues } from '../config/check.js'
import { resolveSecrets, type Secrets } from '../config/load.js'
import { type Config, type ConfigInput, configSchema } from '../config/schema.js'
import { AddressInUseError, invalidOptions } from '../errors.js'
import { Engine, type GateContext, type GateResult } from '../invalidation/engine.js'
import { newEpoch } from '../invalidation/ids.js'
import { type Clock, realClock } from '../limiter/clock.js'
import { DEV_KID, DEV_SIGNING_KEY } from '../protocol/dev-key.js'
import type { GoawayMessage } from '../protocol/messages.js'
import { problem } from '../protocol/problem.js'
import { MemoryStore } from '../store/memory.js'
import { RedisStore } from '../store/redis.js'
import { parseOptions } from '../validate.js'
import { createRewarmLoop } from '../warmup/rewarm-loop.js'
import { Admission } from './admission.js'
import { Auth } from './auth.js'
import { Connections, DESCRIPTOR_RESERVE, descriptorLimit, serverOptionsOf } from './connections.js'
import type { App, Ctx, Env } from './context.js'
import { onDelivered } from './delivered.js'
import { sameMachineOnly } from './dev-guard.js'
import { FleetTracker } from './fleet.js'
import { HttpProblem } from './http.js'
import { StreamHub } from './hub.js'
import { type CoordinatorState, inspectState } from './inspect.js'
import { DeliveryLog, type Signer, signFor, sseFrame } from './log.js'
import { createMetrics } from './metrics.js'
import { isNdjson } from './ndjson.js'
import { toLeader } from './proxy.js'
import { Recall } from './recall.js'
import { reach } from './replica/reach.js'
import { Replica } from './replica/replica.js'
import { errorProblem, problemResponse } from './respond.js'
import { RewarmLedger } from './rewarm-ledger.js'
import { changesRoutes } from './routes/changes.js'
import { clientsRoutes } from './routes/clients.js'
import { configRoutes } from './routes/config.js'
import { opsRoutes } from './routes/ops.js'
import { streamRoutes } from './routes/stream.js'
import type { Runtime } from './runtime.js'
import { memoryRuntime } from './runtime-memory.js'
import { Settings } from './settings.js'

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

export interface Listening {
  readonly url: string
  readonly host: string
  readonly port: number
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

export const createCoordinator = (opts: CoordinatorOptions = {}): Coordinator => {
  const initial = parseOptions(configSchema, opts.config ?? {})
  const secrets = opts.secrets ?? resolveSecrets(initial, process.env)
  const notice = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`))
  const clock = opts.clock ?? realClock
  const random = opts.random ?? Math.random
  const signing = secrets.signing ?? { activeKid: DEV_KID, keys: { [DEV_KID]: DEV_SIGNING_KEY } }
  let current = initial

  const metrics = createMetrics({ defaults: opts.processMetrics !== false })
  // One signer for every stream message, on either store: each signature counted once.
  const signer: Signer = {
    fleet: initial.fleet,
    // A memory store's state lives as long as this process: a new epoch each start. On Redis the
    // store holds the fleet's epoch; the replica takes it from there before anything is signed.
    epoch: newEpoch(clock.now(), random),
    kid: signing.activeKid,
    keys: signing.keys,
    onSign: () => metrics.eventsSigned.inc(),
  }
  const fleet = new FleetTracker()
  const delivered = onDelivered(fleet, metrics)
  let closed = false
  let runtime: Runtime
  let listening: Listening | undefined
  const hub = new StreamHub({
    pingMs: initial.stream.pingMs,
    onClose: (clientId) => {
      if (!closed) runtime.disconnected(clientId)
      metrics.streams.set(hub.size)
    },
  })
  const admission = new Admission(initial.admission, clock, random)
  const recall = new Recall({ fleet: initial.fleet, keys: signing.keys, epoch: () => signer.epoch })
  let memEngine: Engine | undefined
  let replica: Replica | undefined
  let store: RedisStore | undefined
  if (initial.store.kind === 'memory') {
    // Sequence numbers count within this process's epoch (clients reset their count at a new
    // epoch, so a clock that went back is harmless); from the clock, for readable numbers.
    const log = new DeliveryLog(
      signer,
      initial.log.maxEntries,
      Math.floor(clock.now()) * 1000,
      initial.log.maxBytes,
    )
    const engine = new Engine({
      clock,
      epoch: signer.epoch,
      // A memory store starts with nothing: it may have spent its burst just before it died.
      coldStart: true,
      config: engineConfigOf(initial),
      ...(opts.gate && { gate: opts.gate }),
      deliver: (d) => {
        const entry = log.append({ type: 'change', change: d.change }, d.clientIds)
        hub.send(d.clientIds, entry.frame)
        delivered(d, entry.seq)
      },
    })
    memEngine = engine
    runtime = memoryRuntime({
      engine,
      log,
      hub,
      admission,
      fleet,
      recovered: () => recall.hard(),
      now: () => clock.now(),
    })
  } else {
    const where = initial.store
    store = new RedisStore({
      fleet: initial.fleet,
      ...(where.url !== undefined && { url: where.url }),
      ...(where.nodes && {
        cluster: where.nodes.map((n) => ({
          host: n.slice(0, n.lastIndexOf(':')),
          port: Number(n.slice(n.lastIndexOf(':') + 1)),
        })),
      }),
    })
    const connecting = store
    replica = new Replica({
      store,
      connect: () => connecting.connect(),
      config: () => current,
      engineConfig: engineConfigOf,
      signer,
      clock,
      random,
      hub,
      fleet,
      metrics,
      admission,
      adopt: (next) => {
        admission.reconfigure(next.admission)
        current = next
      },
      ...(opts.gate && { gate: opts.gate }),
      url: () => listening?.url,
      leaseMs: initial.replication.leaseMs,
      notice,
    })
    runtime = replica
  }
  const engineHere = (): Engine => {
    const e = memEngine ?? replica?.engine
    if (!e)
      throw new HttpProblem(
        problem('E_STORE_UNAVAILABLE', 'This replica does not lead the fleet right now', {
          retryAfterMs: 1000,
        }),
        { 'retry-after': '1' },
      )
    return e
  }
  const settings = new Settings(
    initial,
    (next) => {
      ;(memEngine ?? replica?.engine)?.reconfigure(engineConfigOf(next))
      admission.reconfigure(next.admission)
      current = next
      replica?.shareConfig(next)
    },
    clock.now(),
  )
  const rewarm = createRewarmLoop({
    rewarm: () => current.rewarm,
    budget: () => current.budgets.rewarm,
    fleet,
    setRate: (rate) => runtime.setRewarmRate(rate),
    now: () => clock.now(),
    active: () => runtime.leading,
    seesAllGrants: runtime.kind === 'memory',
    observe: (health, rate) => {
      metrics.rewarmRate.set(rate)
      if (health.p50 !== undefined)
        metrics.originLatency.set({ quantile: '0.5' }, health.p50 / 1000)
      if (health.p99 !== undefined)
        metrics.originLatency.set({ quantile: '0.99' }, health.p99 / 1000)
      if (health.errorRate !== undefined) metrics.originErrors.set(health.errorRate)
    },
  })
  rewarm.start()
  // Checkpoints live in the store: on Redis they outlive this process; in memory, they live as long as it.
  const ledgerStore = store ?? new MemoryStore(() => clock.now())
  const ledger = new RewarmLedger(ledgerStore, {
    now: () => clock.now(),
    ttlMs: () => current.rewarm.checkpointTtlMs,
    staleAfterMs: () => current.rewarm.staleAfterMs,
  })
  const state = { shuttingDown: false }
  const events = new EventEmitter<CoordinatorEvents>()
  let connections: Connections | undefined
  const ctx: Ctx = {
    events,
    sign: (message) => signFor(signer, message),
    epoch: () => signer.epoch,
    get engine() {
      return engineHere()
    },
    runtime,
    rewarm,
    recall,
    ledger,
    auth: new Auth(secrets.tokens),
    metrics,
    fleet,
    hub,
    admission,
    clock,
    settings,
    config: () => current,
    state,
    streamOpened: (socket) => connections?.stream(socket),
  }

  const app: App = new Hono<Env>()
  // With no tokens, web pages elsewhere must not change state through the developer's browser.
  if (!ctx.auth.enabled) app.use('*', sameMachineOnly())
  // Only where a body can come: on @hono/node-server, bodyLimit builds a full Request even
  // for a GET, and an SSE stream would keep it alive for hours (3.5 KB per stream).
  const limitOf = (maxSize: number, what: string) =>
    bodyLimit({
      maxSize,
      onError: () =>
        problemResponse(
          problem('E_BODY_TOO_LARGE', `The ${what} is too large`, { limitBytes: maxSize }),
        ),
    })
  const limitBody = limitOf(initial.limits.bodyBytes, 'request body')
  // NDJSON key lists (POST /v1/changes only) may be larger: their own limit, live from config.
  let ndjson = { bytes: 0, limit: limitBody }
  const limitNdjson = () => {
    const bytes = current.rewarm.maxBodyBytes
    if (ndjson.bytes !== bytes) ndjson = { bytes, limit: limitOf(bytes, 'NDJSON body') }
    return ndjson.limit
  }
  app.use('*', (c, next) =>
    c.req.method === 'GET' || c.req.method === 'HEAD'
      ? next()
      : c.req.method === 'POST' && c.req.path === '/v1/changes' && isNdjson(c)
        ? limitNdjson()(c, next)
        : limitBody(c, next),
  )
  app.use('*', async (c, next) => {
    await next()
    metrics.requests.inc({ route: c.req.routePath, status: String(c.res.status) })
  })
  // On a Redis follower, the engine's routes are the leader's to answer.
  app.use('/v1/changes', toLeader(runtime))
  app.use('/v1/changes/*', toLeader(runtime))
  app.use('/v1/config', toLeader(runtime))
  app.use('/v1/config/*', toLeader(runtime))
  app.use('/v1/clients/:id/rewarms', toLeader(runtime))
  app.use('/v1/clients/:id/recall', toLeader(runtime))
  changesRoutes(app, ctx)
  clientsRoutes(app, ctx)
  configRoutes(app, ctx)
  streamRoutes(app, ctx)
  opsRoutes(app, ctx)
  app.notFound(() => problemResponse(problem('E_NOT_FOUND', 'No such route')))
  app.onError((error) => {
    if (error instanceof HttpProblem) return problemResponse(error.problem, error.headers)
    const p = errorProblem(error)
    // Store down: never a bypass of the budget; come back shortly.
    return problemResponse(p, p.status === 503 ? { 'retry-after': '1' } : {})
  })

  let server: ServerType | undefined

  const listen = async (at: { host?: string; port?: number } = {}): Promise<Listening> => {
    const host = at.host ?? current.listen.host
    const port = at.port ?? current.listen.port
    // The rule `slew config check` and `slew serve` apply (config/check.ts), here for a library user.
    const refused = bindIssues(host, {
      tokens: ctx.auth.enabled,
      signing: secrets.signing !== undefined,
    })
    if (refused.length > 0) throw invalidOptions(refused)
    // Connection caps within the descriptors this process may open, or they would not hold.
    const limits = current.limits
    const fds = descriptorLimit()
    const total =
      fds === undefined
        ? limits.connections
        : Math.min(limits.connections, Math.max(1, fds - DESCRIPTOR_RESERVE))
    if (fds !== undefined && fds < limits.connections)
      notice(
        `slew: at most ${total} connections, not limits.connections (${limits.connections}): the descriptor limit is ${fds} (raise it: ulimit -n, or LimitNOFILE under systemd)`,
      )
    const conns = new Connections(limits, {
      total,
      shed: (cap) => metrics.connectionsShed.inc({ cap }),
      changed: (open) => metrics.connections.set(open),
    })
    connections = conns
    const s = serve({
      fetch: app.fetch,
      hostname: host,
      port,
      serverOptions: serverOptionsOf(limits),
    })
    conns.attach(s as Server)
    server = s
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('listening', resolve)
        s.once('error', reject)
      })
    } catch (error) {
      server = undefined
      // Taken by another process: a coded error that says what to do, not a stack.
      if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
        throw new AddressInUseError(host, port, { cause: error })
      throw error
    }
    if (!ctx.auth.enabled)
      notice('slew: no auth tokens configured: listening on loopback only, no token needed')
    if (!secrets.signing)
      notice('slew: no signing keys configured: signing with the public dev key (kid "dev")')
    const bound = (s.address() as AddressInfo).port
    const shown = host.includes(':') ? `[${host}]` : host
    listening = { url: `http://${shown}:${bound}`, host, port: bound }
    if (store && replica) {
      const r = replica
      await reach({
        where: store.where,
        start: () => r.start(),
        notice,
        closed: () => closed,
        firstWaitMs: REACH_FIRST_WAIT_MS,
        random,
      }).first
    }
    return listening
  }

  const close = async () => {
    if (closed) return
    closed = true
    rewarm.stop()
    memEngine?.close()
    await replica?.close()
    await store?.close()
    hub.close()
    if (server) {
      const s = server
      const done = new Promise<void>((resolve) => s.close(() => resolve()))
      if ('closeAllConnections' in s) s.closeAllConnections()
      await done
    }
  }

  const shutdown = async (reason = 'shutdown') => {
    state.shuttingDown = true
    // Spread the returns over at least the time admission needs to let them all back in.
    const spreadMs = Math.max(
      current.stream.drainMs,
      (hub.size / current.admission.ratePerSec) * 1000,
    )
    hub.endAll(() => {
      const msg: GoawayMessage = {
        type: 'goaway',
        retryAfterMs: Math.round(random() * spreadMs),
        reason,
      }
      return sseFrame('goaway', msg)
    })
    await close()
  }

  const kick = (clientId: string) => {
    const conn = [...hub.connections()].find((c) => c.clientId === clientId)
    conn?.res.destroy()
    return conn !== undefined
  }

  const inspect = () =>
    inspectState({
      engine: memEngine ?? replica?.engine,
      hub,
      fleet,
      admission,
      runtime,
      settings,
      config: current,
      rewarm,
      ledger,
      ledgerStore,
      shuttingDown: state.shuttingDown,
    })

  return {
    app,
    inspect,
    get engine() {
      return engineHere()
    },
    events,
    kick,
    config: () => current,
    listen,
    shutdown,
    close,
  }
}

/** How long listen() waits for Redis before saying it cannot reach it (and going on trying). */
const REACH_FIRST_WAIT_MS = 3000

/** The engine's part of the config. */
const engineConfigOf = (c: Config) => ({
  fleet: c.fleet,
  shards: c.shards,
  budgets: c.budgets,
  waves: c.waves,
  leases: c.leases,
  defaultEntries: c.defaultEntries,
  retainFinished: c.retainFinished,
  configBytes: c.limits.configBytes,
})
