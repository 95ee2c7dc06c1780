/**
 * The connected streams: one Node response per client, written to directly
 * (no per-stream framework objects, so 10,000 streams stay cheap). A frame is
 * one string, written as is to every recipient. A client that cannot keep up
 * (over `maxBufferedBytes` unsent) is cut off; it resumes from the log.
 */
import type { ServerResponse } from 'node:http'
import { sseFrame } from './log.js'

export interface Connection {
  readonly clientId: string
  readonly res: ServerResponse
  readonly connectedAt: number
  /** The nonce the client connected with: a hello later on this connection carries it too. */
  readonly nonce?: string | undefined
}

export interface HubOptions {
  readonly pingMs: number
  /** The clock's time, ms (pings and connection times carry it). */
  readonly now: () => number
  readonly maxBufferedBytes?: number
  /** A stream ended, for whatever reason. */
  readonly onClose: (clientId: string, conn: Connection) => void
}

export class StreamHub {
  readonly #conns = new Map<string, Connection>()
  readonly #ping: NodeJS.Timeout
  readonly #maxBuffered: number

  constructor(private readonly opts: HubOptions) {
    this.#maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024
    this.#ping = setInterval(
      () => this.broadcast(sseFrame('ping', { at: Math.floor(opts.now()) })),
      opts.pingMs,
    )
    this.#ping.unref()
  }

  get size(): number {
    return this.#conns.size
  }

  has(clientId: string): boolean {
    return this.#conns.has(clientId)
  }

  /** The client's stream here, if any. */
  get(clientId: string): Connection | undefined {
    return this.#conns.get(clientId)
  }

  connections(): IterableIterator<Connection> {
    return this.#conns.values()
  }

  /** Register a stream; an older stream of the same client is ended first. */
  add(clientId: string, res: ServerResponse, nonce?: string): Connection {
    this.#conns.get(clientId)?.res.end()
    const conn: Connection = { clientId, res, connectedAt: Math.floor(this.opts.now()), nonce }
    this.#conns.set(clientId, conn)
    res.on('close', () => {
      if (this.#conns.get(clientId) === conn) {
        this.#conns.delete(clientId)
        this.opts.onClose(clientId, conn)
      }
    })
    return conn
  }

  /** Write `frame` to one client's stream; false if it is not connected here. */
  write(clientId: string, frame: string): boolean {
    const conn = this.#conns.get(clientId)
    if (!conn) return false
    this.#write(conn, frame)
    return true
  }

  /** Write `frame` to each named client connected here; returns how many got it. */
  send(clientIds: Iterable<string>, frame: string): number {
    let n = 0
    for (const id of clientIds) if (this.write(id, frame)) n++
    return n
  }

  broadcast(frame: string): void {
    for (const conn of this.#conns.values()) this.#write(conn, frame)
  }

  /** End every stream, each with its own last frame (a goaway). */
  endAll(lastFrame: (conn: Connection) => string): void {
    for (const conn of [...this.#conns.values()]) {
      conn.res.end(lastFrame(conn))
    }
  }

  close(): void {
    clearInterval(this.#ping)
    for (const conn of [...this.#conns.values()]) conn.res.destroy()
  }

  #write(conn: Connection, frame: string): void {
    if (conn.res.writableEnded || conn.res.destroyed) return
    if (conn.res.writableLength > this.#maxBuffered) {
      conn.res.destroy()
      return
    }
    conn.res.write(frame)
  }
}
