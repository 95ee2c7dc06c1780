/**
 * The client's stream as a connection: open it with a fresh nonce and our
 * resume point, check each message (Guard) and hand on what may be applied,
 * say when the coordinator introduces itself (hello: connected, or a new
 * epoch), and say once what goes wrong (wrong fleet, refusals). start()
 * settles on the first hello (and, for a new client, the config after it).
 */
import { randomBytes } from 'node:crypto'
import type { EventEmitter } from 'node:events'
import type { EventSourceMessage } from 'eventsource-parser'
import {
  HttpError,
  NotConnectedError,
  RefusingError,
  type SlewError,
  WrongFleetError,
} from '../errors.js'
import type { Clock } from '../model/clock.js'
import type {
  GoawayMessage,
  HelloMessage,
  RejectReason,
  SignedStreamMessage,
} from '../protocol/messages.js'
import { type Guard, REFUSING_AFTER } from './guard.js'
import type { Remote } from './http.js'
import type { ParsedClientOptions, SlewClientEvents } from './options.js'
import { StreamConnection } from './stream.js'

export interface ConnectionParts {
  readonly options: Readonly<ParsedClientOptions>
  readonly remote: Remote
  readonly clock: Clock
  readonly random: () => number
  readonly guard: Guard
  /** Where events go: the client. */
  readonly events: EventEmitter<SlewClientEvents>
  /** Entries in the cache now (the stream's `?entries=`). */
  readonly entries: () => number
  /** A verified message other than a hello, to apply (it calls settled()). */
  readonly apply: (m: Exclude<SignedStreamMessage, HelloMessage>, signed: unknown) => void
  /** A message applied before came again (counted, nothing else). */
  readonly duplicate: () => void
  /** The coordinator's epoch moved on from `before`: tell it what we can prove of that one. */
  readonly recall: (before: string) => void
  /** The first hello on this connection was accepted: heartbeat now, resume rewarms. */
  readonly hello: () => void
  /** An error to say ('error' event, if anyone listens). */
  readonly report: (error: unknown) => void
}

export class Connection {
  #connected = false
  /** The stream of the current attempt has said hello (connected, in the SDK's sense). */
  #hello = false
  /** The last coded error reported for the stream (each reported once until things change). */
  #told: string | undefined
  #firstConnect: { resolve: () => void; reject: (e: Error) => void } | undefined
  readonly #stream: StreamConnection
  readonly #p: ConnectionParts

  constructor(p: ConnectionParts) {
    this.#p = p
    const o = p.options
    this.#stream = new StreamConnection(
      p.remote,
      {
        query: () => {
          // A new nonce per attempt: the hello that opens it must carry it (an old one replayed is refused).
          const nonce = randomBytes(12).toString('base64url')
          p.guard.nonce = nonce
          this.#hello = false
          const { epoch } = p.guard
          return {
            clientId: o.clientId,
            entries: String(p.entries()),
            nonce,
            ...(epoch !== undefined && { epoch }),
            ...(o.fleet !== undefined && { fleet: o.fleet }),
          }
        },
        lastSeq: () => p.guard.lastSeq,
        message: (e) => this.#message(e),
        oversized: () => {
          const verdict = p.guard.oversized()
          p.events.emit('rejected', verdict.reason)
          this.#refused('message', verdict)
        },
        connected: () => {},
        disconnected: (reason, retryInMs, error) => {
          const was = this.#connected
          this.#connected = false
          this.#hello = false
          if (error instanceof HttpError && error.problemCode === 'E_WRONG_FLEET') {
            const p = error.problem
            this.#fail(new WrongFleetError(String(p.clientFleet ?? o.fleet), String(p.fleet)))
          } else if (!was && error instanceof HttpError && !error.retryable) {
            this.#firstConnect?.reject(error)
          }
          this.#p.events.emit('disconnected', { reason, retryInMs })
        },
      },
      { ...o.reconnect, maxMessageBytes: o.maxMessageBytes },
      p.clock,
      p.random,
    )
  }

  get connected(): boolean {
    return this.#connected
  }

  /** Open the stream; resolves as SlewClient.start() says, rejects after startTimeoutMs. */
  start(): Promise<void> {
    const first = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new NotConnectedError(`no connection within ${this.#p.options.startTimeoutMs} ms`),
          ),
        this.#p.options.startTimeoutMs,
      )
      this.#firstConnect = {
        resolve: () => {
          clearTimeout(timer)
          resolve()
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
      }
    })
    this.#stream.start()
    return first
  }

  /** Drop the stream and connect again at once. */
  restart(): void {
    this.#stream.restart()
  }

  /** Close the stream for good. */
  close(): void {
    this.#stream.close()
  }

  /** A start() still waiting rejects with `error`. */
  abandon(error: Error): void {
    this.#firstConnect?.reject(error)
  }

  /** A message was applied: the stream is well (errors may be said again), and start() settles. */
  settled(): void {
    this.#told = undefined
    // Whatever comes first after the hello settles start() (the config, a reset, the gap).
    this.#firstConnect?.resolve()
  }

  #message(e: EventSourceMessage): void {
    if (e.event === 'ping') return
    if (e.event === 'goaway') {
      const msg = safeJson(e.data) as Partial<GoawayMessage> | undefined
      const ms = typeof msg?.retryAfterMs === 'number' ? msg.retryAfterMs : 0
      // Unsigned: it can only delay a reconnect, and never by more than 5 minutes.
      this.#stream.comeBackIn(Math.min(300_000, Math.max(0, ms)))
      return
    }
    const verdict = this.#p.guard.check(e.data)
    if (verdict.ok === 'duplicate') {
      // Applied before (a rollout recovered after a restart, a catch-up): in order, nothing to do.
      this.#p.guard.applied(verdict.message)
      this.#p.duplicate()
      return
    }
    if (verdict.ok === false) {
      this.#p.events.emit('rejected', verdict.reason)
      this.#refused(e.event ?? 'message', verdict)
      return
    }
    const m = verdict.message
    if (m.type === 'hello') this.#helloFrom(m)
    else this.#p.apply(m, JSON.parse(e.data) as unknown)
  }

  /** A refusal: a hello refused means nothing on this connection can apply; a run of them is said. */
  #refused(event: string, v: { reason: RejectReason; fleet?: string }): void {
    if (event === 'hello' && v.reason === 'wrong-fleet') {
      this.#fail(new WrongFleetError(this.#p.options.fleet ?? '', v.fleet ?? ''))
      return
    }
    const refusing = this.#p.guard.refusing
    if (event === 'hello' && !this.#connected) {
      this.#fail(new RefusingError(v.reason, refusing?.count ?? 1))
    } else if (refusing?.count === REFUSING_AFTER) {
      this.#fail(new RefusingError(refusing.reason, refusing.count))
    }
  }

  /**
   * A failure to say: start() rejects with it if still waiting, and an
   * 'error' event carries it once (until the stream gets well again).
   */
  #fail(error: SlewError): void {
    this.#firstConnect?.reject(error)
    const key = `${error.code}:${String(error.details.reason ?? error.details.got ?? '')}`
    if (this.#told === key) return
    this.#told = key
    this.#p.report(error)
  }

  /** The coordinator introduced itself on this connection (or again, with a new epoch). */
  #helloFrom(m: HelloMessage): void {
    const guard = this.#p.guard
    const before = guard.epoch
    // A client that sent a resume point is sent the gap (maybe none) or a reset; one that sent
    // none, the fleet's config.
    const resuming = guard.lastSeq !== undefined
    guard.applied(m)
    this.#told = undefined
    // Its state was lost (an old epoch before this one): tell it what we can prove.
    if (before !== undefined && before !== m.epoch) this.#p.recall(before)
    if (this.#hello) return
    this.#hello = true
    this.#connected = true
    // At once, not a heartbeat interval later: the coordinator prices this client's deliveries
    // by its cache size, and the answer brings the budgets to fall back on (degraded mode).
    this.#p.hello()
    // A client with nothing to resume from is sent the fleet's config next: start() resolves
    // once it holds it, so config.get() answers from the first line after `await start()`.
    if (resuming) this.#firstConnect?.resolve()
    this.#p.events.emit('connected')
  }
}

const safeJson = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
