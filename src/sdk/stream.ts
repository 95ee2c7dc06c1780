/**
 * The SDK's end of the stream: connect, read SSE, reconnect. Reconnects use
 * full-jitter backoff; an admission refusal's Retry-After (or a `goaway`'s
 * delay) wins over it; 45 s without a byte (pings come every 15 s) counts as
 * a lost stream; an event or a line over `maxMessageBytes` is refused and
 * the stream cut. A lost stream changes nothing in the cache (S).
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser'
import type { HttpError } from '../errors.js'
import type { Clock, Timer } from '../model/clock.js'
import { Backoff, type BackoffOptions } from './backoff.js'
import { errorOf, headers, type Remote } from './http.js'
import { SseBudget } from './sse-budget.js'

export interface ReconnectOptions extends BackoffOptions {
  /** Silence after which the stream counts as lost, ms. */
  readonly silenceMs: number
}

export interface StreamOptions extends ReconnectOptions {
  /** The most bytes one event (and so any line) may take; more cuts the stream. */
  readonly maxMessageBytes: number
}

export interface StreamHooks {
  /** Query for the stream URL (clientId, entries). */
  query(): Record<string, string>
  /** The last sequence number applied, sent as Last-Event-ID. */
  lastSeq(): number | undefined
  message(event: EventSourceMessage): void
  /** An event or a line grew past maxMessageBytes: the stream is cut (and reconnected). */
  oversized(): void
  connected(): void
  /** The stream ended or could not be opened; `retryInMs` until the next try. */
  disconnected(reason: string, retryInMs: number, error?: unknown): void
}

/** The longest a server may keep a client away with a Retry-After: an hour. */
const MAX_TOLD_MS = 3_600_000

/** Wait `ms`, or until `signal` aborts. */
const sleep = (clock: Clock, ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      t.cancel()
      signal.removeEventListener('abort', done)
      resolve()
    }
    const t: Timer = clock.setTimer(ms, done)
    signal.addEventListener('abort', done)
  })

export class StreamConnection {
  readonly #backoff: Backoff
  readonly #stop = new AbortController()
  #goawayMs: number | undefined
  #running = false
  #attempt: AbortController | undefined
  /** The wait before the next attempt, if one is under way. */
  #wait: AbortController | undefined
  /** reconnect() was asked since this attempt began: the next one starts at once. */
  #now = false

  constructor(
    private readonly remote: Remote,
    private readonly hooks: StreamHooks,
    private readonly opts: StreamOptions,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {
    this.#backoff = new Backoff(opts, random)
  }

  /** The server said: come back in `ms` (goaway). */
  comeBackIn(ms: number): void {
    this.#goawayMs = ms
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    void this.#loop()
  }

  /**
   * End the current connection and reconnect without waiting: cuts short a
   * backoff, a refusal's Retry-After or a goaway's delay (unsigned: it may
   * be forged) under way.
   */
  restart(): void {
    this.#now = true
    this.#attempt?.abort()
    this.#wait?.abort()
  }

  close(): void {
    this.#stop.abort()
  }

  /** Tell the client the connection ended, unless it ended because the client closed. */
  #disconnected(reason: string, retryInMs: number, error?: unknown): void {
    if (!this.#stop.signal.aborted) this.hooks.disconnected(reason, retryInMs, error)
  }

  async #loop(): Promise<void> {
    const stopped = this.#stop.signal
    while (!stopped.aborted) {
      this.#now = false
      const attempt = new AbortController()
      this.#attempt = attempt
      const onStop = () => attempt.abort()
      stopped.addEventListener('abort', onStop)
      let wait: number
      try {
        wait = await this.#once(attempt)
      } finally {
        stopped.removeEventListener('abort', onStop)
      }
      if (stopped.aborted) break
      if (this.#now) continue
      const waiting = new AbortController()
      this.#wait = waiting
      await sleep(this.clock, wait, AbortSignal.any([stopped, waiting.signal]))
      this.#wait = undefined
    }
  }

  /** One connection, start to end; returns how long to wait before the next. */
  async #once(attempt: AbortController): Promise<number> {
    const q = new URLSearchParams(this.hooks.query()).toString()
    const last = this.hooks.lastSeq()
    let res: Response
    try {
      res = await fetch(`${this.remote.url}/v1/stream?${q}`, {
        headers: headers(this.remote, {
          accept: 'text/event-stream',
          ...(last !== undefined && { 'last-event-id': String(last) }),
        }),
        signal: attempt.signal,
      })
    } catch (error) {
      const wait = this.#backoff.next()
      this.#disconnected('cannot connect', wait, error)
      return wait
    }
    if (res.status !== 200) {
      const error: HttpError = await errorOf(res)
      const told = retryAfterOf(res, error)
      // A server that names a delay is obeyed (plus jitter up to 10 % so clients told the same second spread).
      const wait =
        told !== undefined
          ? told * (1 + 0.1 * this.random())
          : error.retryable
            ? this.#backoff.next()
            : this.opts.capMs
      this.#disconnected(`refused: ${error.message}`, wait, error)
      return wait
    }
    const since = this.clock.now()
    this.hooks.connected()
    const reason = await this.#read(res, attempt)
    this.#backoff.connectedFor(this.clock.now() - since)
    const goaway = this.#goawayMs
    this.#goawayMs = undefined
    const wait = goaway ?? this.#backoff.next()
    this.#disconnected(reason, wait)
    return wait
  }

  async #read(res: Response, attempt: AbortController): Promise<string> {
    const parser = createParser({ onEvent: (e) => this.hooks.message(e) })
    const budget = new SseBudget(this.opts.maxMessageBytes)
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let silent = false
    let watchdog: Timer | undefined
    const arm = () => {
      watchdog?.cancel()
      watchdog = this.clock.setTimer(this.opts.silenceMs, () => {
        silent = true
        attempt.abort()
      })
    }
    arm()
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return 'stream ended'
        arm()
        // Counted before the parser sees it: it never holds more than the limit.
        if (!budget.take(value)) {
          attempt.abort()
          this.hooks.oversized()
          return `oversized: an event or a line over ${this.opts.maxMessageBytes} bytes`
        }
        parser.feed(decoder.decode(value, { stream: true }))
      }
    } catch (error) {
      return silent
        ? `no data for ${this.opts.silenceMs} ms`
        : `stream broke: ${(error as Error).message}`
    } finally {
      watchdog?.cancel()
      reader.releaseLock()
    }
  }
}

/** Retry delay a refusal names: the problem's retryAfterMs, else Retry-After seconds. */
const retryAfterOf = (res: Response, error: HttpError): number | undefined => {
  const ms = error.problem.retryAfterMs
  if (typeof ms === 'number' && Number.isFinite(ms) && ms >= 0) return Math.min(ms, MAX_TOLD_MS)
  const header = res.headers.get('retry-after')
  const secs = header === null ? Number.NaN : Number(header)
  return Number.isFinite(secs) && secs >= 0 ? Math.min(secs * 1000, MAX_TOLD_MS) : undefined
}
