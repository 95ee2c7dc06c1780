/**
 * The connected streams: one Node response per client, written to directly
 * (no per-stream framework objects, so 10,000 streams stay cheap). A frame is
 * one string, written as is to every recipient. A client that cannot keep up
 * (over `maxBufferedBytes` unsent) is cut off; it resumes from the log. So
 * are the slowest streams, most unsent first, once all streams together
 * hold more than `maxBufferedTotalBytes` unsent: a thousand stuck app
 * servers (a fleet paused in GC, a network partition that keeps sockets
 * open) would otherwise each keep their own allowance, and together more
 * memory than the coordinator has.
 *
 * Frames to one stream within one turn of the event loop go out together,
 * in one write (one chunk, one system call) at the end of the turn, in the
 * order they were given: a client that gets many changes at once (a pacer
 * wake delivers every rollout that fits) costs one write, not one per
 * change. Each frame is still signed once for all its recipients.
 *
 * The ping every `pingMs` goes to every stream, PING_CHUNK streams per turn
 * of the event loop: each write is a system call, and one loop over 19,500
 * streams held everything else up for 0.6–0.7 s every 15 s (heartbeat
 * answers waited up to half a second behind it); in chunks, the longest
 * stall measured 40–90 ms (bench/fleet-30k.ts).
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
  /** Most bytes one stream may hold unsent; beyond, it is cut. @default 4 MiB */
  readonly maxBufferedBytes?: number
  /** Most bytes all streams together may hold unsent; beyond, the slowest are cut. @default 256 MiB */
  readonly maxBufferedTotalBytes?: number
  /** A stream ended, for whatever reason. */
  readonly onClose: (clientId: string, conn: Connection) => void
  /** Streams cut for holding too much unsent: one over its own limit ('slow'), or all over theirs ('total'). */
  readonly onCut?: (reason: CutReason, clientIds: readonly string[]) => void
}

export type CutReason = 'slow' | 'total'

/** Streams pinged per turn of the event loop (about 6 ms of writes). */
const PING_CHUNK = 256

export class StreamHub {
  readonly #conns = new Map<string, Connection>()
  readonly #ping: NodeJS.Timeout
  readonly #maxBuffered: number
  readonly #maxBufferedTotal: number
  /** Bytes each stream held unsent when last looked at (streams holding none are left out), and their sum. */
  readonly #held = new Map<Connection, number>()
  #heldTotal = 0
  readonly #cut: Record<CutReason, number> = { slow: 0, total: 0 }
  /** The ping round under way: the streams still to ping, and its frame. */
  #pinging: { readonly left: Iterator<Connection>; readonly frame: string } | undefined
  #closed = false
  /** Frames given this turn, per stream, written together at its end. */
  readonly #pending = new Map<Connection, string[]>()
  #flushing = false
  #written = { frames: 0, writes: 0 }

  constructor(private readonly opts: HubOptions) {
    this.#maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024
    this.#maxBufferedTotal = opts.maxBufferedTotalBytes ?? 256 * 1024 * 1024
    this.#ping = setInterval(() => this.#pingAll(), opts.pingMs)
    this.#ping.unref()
  }

  /** A new ping round (one still under way goes on with the new frame). */
  #pingAll(): void {
    const round = !this.#pinging
    this.#pinging = {
      left: this.#pinging?.left ?? this.#conns.values(),
      frame: sseFrame('ping', { at: Math.floor(this.opts.now()) }),
    }
    if (round) this.#pingSome()
  }

  /** Ping the next PING_CHUNK streams; the rest after the I/O that waits. */
  #pingSome(): void {
    const round = this.#pinging
    if (!round || this.#closed) return
    for (let n = 0; n < PING_CHUNK; n++) {
      const next = round.left.next()
      if (next.done) {
        this.#pinging = undefined
        return
      }
      this.#write(next.value, round.frame)
    }
    setImmediate(() => this.#pingSome()).unref()
  }

  /** Frames given and writes made so far (a write carries every frame a stream got in one turn). */
  get written(): { readonly frames: number; readonly writes: number } {
    return this.#written
  }

  get size(): number {
    return this.#conns.size
  }

  /** Bytes all streams here hold unsent now (Node's buffers, not the kernel's). */
  get buffered(): number {
    this.#measure()
    return this.#heldTotal
  }

  /** Streams cut so far for holding too much unsent, by reason. */
  get cut(): Readonly<Record<CutReason, number>> {
    return this.#cut
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
      this.#hold(conn, 0)
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

  /** End every stream, each with its own last frame (a goaway) after what it was still due. */
  endAll(lastFrame: (conn: Connection) => string): void {
    this.flush()
    for (const conn of [...this.#conns.values()]) {
      conn.res.end(lastFrame(conn))
    }
  }

  close(): void {
    this.#closed = true
    clearInterval(this.#ping)
    this.#pending.clear()
    for (const conn of [...this.#conns.values()]) conn.res.destroy()
  }

  /** Write what every stream was given this turn (at the end of the turn, or before a goaway). */
  flush(): void {
    this.#flushing = false
    const slow: string[] = []
    for (const [conn, frames] of this.#pending) {
      const res = conn.res
      if (res.writableEnded || res.destroyed) continue
      if (res.writableLength > this.#maxBuffered) {
        res.destroy()
        slow.push(conn.clientId)
        continue
      }
      res.write(frames.length === 1 ? frames[0]! : frames.join(''))
      this.#written.writes++
      this.#hold(conn, res.writableLength)
    }
    this.#pending.clear()
    if (slow.length > 0) this.#cutDone('slow', slow)
    if (this.#heldTotal > this.#maxBufferedTotal) this.#cutSlowest()
  }

  /**
   * All streams hold more than their limit unsent (as last looked at: what
   * the kernel took since is not counted yet): looked at afresh, and if
   * still over, the streams holding most are cut until the rest fit.
   */
  #cutSlowest(): void {
    this.#measure()
    if (this.#heldTotal <= this.#maxBufferedTotal) return
    const most = [...this.#held].sort((a, b) => b[1] - a[1])
    const cut: string[] = []
    for (const [conn] of most) {
      if (this.#heldTotal <= this.#maxBufferedTotal) break
      this.#hold(conn, 0)
      conn.res.destroy()
      cut.push(conn.clientId)
    }
    this.#cutDone('total', cut)
  }

  #cutDone(reason: CutReason, clientIds: readonly string[]): void {
    this.#cut[reason] += clientIds.length
    this.opts.onCut?.(reason, clientIds)
  }

  /** What each stream holding bytes unsent holds now. */
  #measure(): void {
    for (const conn of [...this.#held.keys()]) {
      const res = conn.res
      this.#hold(conn, res.destroyed ? 0 : res.writableLength)
    }
  }

  #hold(conn: Connection, bytes: number): void {
    const before = this.#held.get(conn) ?? 0
    if (bytes > 0) this.#held.set(conn, bytes)
    else this.#held.delete(conn)
    this.#heldTotal += bytes - before
  }

  #write(conn: Connection, frame: string): void {
    if (this.#closed || conn.res.writableEnded || conn.res.destroyed) return
    this.#written.frames++
    const frames = this.#pending.get(conn)
    if (frames) frames.push(frame)
    else this.#pending.set(conn, [frame])
    if (!this.#flushing) {
      this.#flushing = true
      setImmediate(() => this.flush())
    }
  }
}
