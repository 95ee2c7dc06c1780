/**
 * Connection hygiene for the coordinator's HTTP server. Half-open
 * connections (a few header bytes, then nothing) cost a descriptor each; on
 * Node's defaults (60 s for headers, 300 s for a request, no cap) 1,100 of
 * them from one address took every descriptor under `ulimit -n 1024`, and
 * the API and new streams with them. Here:
 *  - headers must arrive within `limits.headersTimeoutMs` and a request
 *    within `limits.requestTimeoutMs` (seconds, not minutes); a stream,
 *    whose request is complete once its headers are in, is not cut;
 *  - at most `limits.connectionsPerAddress` connections per remote address
 *    that are not streams (streams pass admission control, B3, and a fleet
 *    behind one NAT holds many), and `limits.connections` in all, never
 *    more than the descriptor limit allows;
 *  - at a cap, the connection idle longest (no request under way: a
 *    half-open one, or a keep-alive between requests) is closed to make
 *    room; a connection with a request under way, or a stream, never is. If
 *    there is none, the new connection is closed.
 */
import { readFileSync } from 'node:fs'
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Config } from '../config/schema.js'

export type ConnectionLimits = Pick<
  Config['limits'],
  | 'headersTimeoutMs'
  | 'requestTimeoutMs'
  | 'keepAliveTimeoutMs'
  | 'connections'
  | 'connectionsPerAddress'
>

/** Requests one keep-alive connection serves before it is closed (clients open a new one). */
const MAX_REQUESTS_PER_SOCKET = 1000

/** Descriptors kept free for everything else: the listener, Redis, files, the process's own. */
export const DESCRIPTOR_RESERVE = 64

/** Options for http.createServer: the timeouts, checked every second (Node's default: 30 s). */
export const serverOptionsOf = (l: ConnectionLimits): ServerOptions => ({
  headersTimeout: l.headersTimeoutMs,
  requestTimeout: l.requestTimeoutMs,
  keepAliveTimeout: l.keepAliveTimeoutMs,
  connectionsCheckingInterval: Math.min(1000, l.headersTimeoutMs / 2),
})

/** This process's descriptor limit (the soft one), where the OS says (Linux); else undefined. */
export const descriptorLimit = (): number | undefined => {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return line ? Number(line[1]) : undefined
  } catch {
    return undefined
  }
}

interface Conn {
  readonly address: string
  stream: boolean
}

export type ShedCap = 'address' | 'total'

export class Connections {
  readonly #all = new Map<Socket, Conn>()
  /** Connections that are not streams, by remote address (in the order they became idle). */
  readonly #byAddress = new Map<string, Set<Socket>>()
  /** Idle connections, longest idle first. */
  readonly #idle = new Set<Socket>()
  readonly #total: number

  constructor(
    private readonly limits: ConnectionLimits,
    private readonly o: {
      /** The total cap in force: limits.connections, or less if descriptors are fewer. */
      readonly total: number
      /** A connection was closed to keep within a cap. */
      readonly shed: (cap: ShedCap) => void
      readonly changed: (open: number) => void
    },
  ) {
    this.#total = o.total
  }

  get size(): number {
    return this.#all.size
  }

  attach(server: Server): void {
    server.maxRequestsPerSocket = MAX_REQUESTS_PER_SOCKET
    server.on('connection', (socket: Socket) => this.#admit(socket))
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#setBusy(req.socket, true)
      res.on('close', this.#requestDone)
    })
  }

  // One listener each for every request's response and every socket, not a closure (and a
  // `once` wrapper) per connection: a stream keeps its listeners for hours (some 370 bytes
  // each at 20,000 streams). Both events come once.
  readonly #requestDone = (() => {
    const conns = this
    return function requestDone(this: ServerResponse) {
      conns.#setBusy(this.req.socket as Socket, false)
    }
  })()

  readonly #socketClosed = (() => {
    const conns = this
    return function socketClosed(this: Socket) {
      conns.#forget(this)
    }
  })()

  /** This connection carries a stream now: it no longer counts against its address, nor is shed. */
  stream(socket: Socket): void {
    const c = this.#all.get(socket)
    if (!c || c.stream) return
    c.stream = true
    this.#idle.delete(socket)
    this.#leaveAddress(socket, c.address)
  }

  #admit(socket: Socket): void {
    const address = socket.remoteAddress ?? ''
    const full = this.#roomFor(address)
    if (full) {
      socket.destroy()
      this.o.shed(full)
      return
    }
    this.#all.set(socket, { address, stream: false })
    this.#idle.add(socket)
    let set = this.#byAddress.get(address)
    if (!set) {
      set = new Set()
      this.#byAddress.set(address, set)
    }
    set.add(socket)
    socket.on('close', this.#socketClosed)
    this.o.changed(this.#all.size)
  }

  /** Make room for one more connection from `address` (shedding an idle one at a cap); the cap that left none. */
  #roomFor(address: string): ShedCap | undefined {
    const mine = this.#byAddress.get(address)
    if (mine && mine.size >= this.limits.connectionsPerAddress && !this.#shedIdle(mine, 'address'))
      return 'address'
    if (this.#all.size >= this.#total && !this.#shedIdle(this.#idle, 'total')) return 'total'
    return undefined
  }

  /** Close the longest-idle connection among `among`; false if none is idle. */
  #shedIdle(among: ReadonlySet<Socket>, cap: ShedCap): boolean {
    for (const socket of among) {
      if (!this.#idle.has(socket)) continue
      this.#forget(socket)
      socket.destroy()
      this.o.shed(cap)
      return true
    }
    return false
  }

  /** Busy: a request is under way (from its headers to the end of its response). */
  #setBusy(socket: Socket, busy: boolean): void {
    const c = this.#all.get(socket)
    if (!c || c.stream) return
    // Idle again: the newest idle, so last to be shed (re-added at the end of both orders).
    this.#idle.delete(socket)
    const set = this.#byAddress.get(c.address)
    set?.delete(socket)
    set?.add(socket)
    if (!busy) this.#idle.add(socket)
  }

  #leaveAddress(socket: Socket, address: string): void {
    const set = this.#byAddress.get(address)
    set?.delete(socket)
    if (set?.size === 0) this.#byAddress.delete(address)
  }

  #forget(socket: Socket): void {
    const c = this.#all.get(socket)
    if (!c) return
    this.#all.delete(socket)
    this.#idle.delete(socket)
    this.#leaveAddress(socket, c.address)
    this.o.changed(this.#all.size)
  }
}
