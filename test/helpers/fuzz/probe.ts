/**
 * What the fuzz holds of every answer: never a 5xx but a 503 that says when
 * to come back; every refusal a problem+json with a code that changed
 * nothing (`co.inspect()` equal before and after); a read (and a dry run)
 * that changed nothing either; a cut stream let go of; and nothing thrown
 * where nobody catches it (unhandled rejections, uncaught exceptions, errors
 * the HTTP server could only log).
 */
import { expect } from 'vitest'
import type { Coordinator } from '../../../src/coordinator/coordinator.js'
import type { VirtualClock } from '../../../src/limiter/virtual-clock.js'
import { describeRequest, type RawRequest, type RawResponse, send } from './http.js'

export interface FuzzTarget {
  readonly co: Coordinator
  readonly port: number
  /** The coordinator's clock: still while a request is checked, moved between requests. */
  readonly clock?: VirtualClock
  /** Rollout ids the placeholders {R0}… stand for. */
  readonly rollouts: readonly string[]
  /** Everything a request could change, to compare before and after: `co.inspect()`, and the store's content on Redis. */
  readonly snapshot: () => Promise<unknown>
  /**
   * Until what a request that was taken set going has landed (on Redis, a
   * replica's events reach the leader's engine a moment later), so the next
   * request's snapshot is not taken under it.
   */
  readonly settle?: () => Promise<void>
}

/** Everything thrown where nobody caught it, from the moment watchCrashes() is called. */
export const watchCrashes = (): { readonly seen: string[]; stop(): void } => {
  const seen: string[] = []
  const onRejection = (e: unknown) =>
    seen.push(`unhandledRejection: ${(e as Error)?.stack ?? String(e)}`)
  const onException = (e: unknown) =>
    seen.push(`uncaughtException: ${(e as Error)?.stack ?? String(e)}`)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  // @hono/node-server logs what fails after a handler returned (a second writeHead…) and goes on.
  const original = console.error
  console.error = (...args: unknown[]) => {
    seen.push(`console.error: ${args.map((a) => (a as Error)?.stack ?? String(a)).join(' ')}`)
    original(...args)
  }
  return {
    seen,
    stop: () => {
      process.off('unhandledRejection', onRejection)
      process.off('uncaughtException', onException)
      console.error = original
    },
  }
}

const fill = (text: string, rollouts: readonly string[]) =>
  text.replace(/\{R(\d)\}/g, (_, i: string) => rollouts[Number(i)] ?? 'chg-missing')

/** The request with its placeholders filled in. */
export const materialize = (req: RawRequest, rollouts: readonly string[]): RawRequest => {
  const body =
    req.body?.includes('{R') === true
      ? Buffer.from(fill(req.body.toString('utf8'), rollouts))
      : req.body
  return { ...req, path: fill(req.path, rollouts), body }
}

/** Until two snapshots `gapMs` apart are equal (at most `timeoutMs`). */
export const stableSnapshot =
  (snapshot: () => Promise<unknown>, gapMs = 100, timeoutMs = 5000) =>
  async (): Promise<void> => {
    const until = Date.now() + timeoutMs
    let last = JSON.stringify(await snapshot())
    for (;;) {
      await new Promise((r) => setTimeout(r, gapMs))
      const now = JSON.stringify(await snapshot())
      if (now === last) return
      if (Date.now() > until) throw new Error(`the state kept moving for ${timeoutMs} ms`)
      last = now
    }
  }

/** The request sent last (to name it when what it caused shows late). */
let previous = '(none)'

const settle = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)))

/** Reads: routes that never change state (the stream does: it connects a client). */
const isRead = (req: RawRequest) =>
  (req.method === 'GET' || req.method === 'HEAD') && !/^\/v1\/stream(\?|$)/i.test(req.path)

const isDryRun = (req: RawRequest) =>
  /[?&]dryRun=([^&0f]|true)/.test(req.path) && (req.method === 'POST' || req.method === 'PUT')

/**
 * Send one request and check its answer (and the state around it);
 * `crashes` is watchCrashes().seen. Moves the clock by `advanceMs` after.
 */
export const probe = async (
  t: FuzzTarget,
  raw: RawRequest,
  crashes: string[],
  advanceMs = 0,
): Promise<RawResponse> => {
  const req = materialize(raw, t.rollouts)
  // Seen since the last check (late, of the request before this one): reported here, once.
  expect(crashes.splice(0), `after ${previous}\nbefore ${describeRequest(req)}`).toEqual([])
  previous = describeRequest(req)
  const before = await t.snapshot()
  const res = await send(t.port, req)
  await settle()
  const what = `${describeRequest(req)}\n  → ${res.status} ${res.headers['content-type'] ?? ''} ${res.body.slice(0, 400)}`
  expect(crashes, what).toEqual([])

  const problemJson = /^application\/problem\+json/.test(String(res.headers['content-type']))
  let code: unknown
  if (res.status >= 400) {
    expect(problemJson, `a refusal is problem+json: ${what}`).toBe(true)
    if (req.method !== 'HEAD') {
      const p = JSON.parse(res.body) as { code?: unknown; status?: unknown; title?: unknown }
      code = p.code
      expect(typeof p.code === 'string' && /^E_[A-Z_]+$/.test(p.code), `a code: ${what}`).toBe(true)
      expect(p.status, `its status: ${what}`).toBe(res.status)
      expect(typeof p.title, `a title: ${what}`).toBe('string')
    }
  }
  if (res.status >= 500) {
    // The only 5xx there is: a 503 that says when to come back (here: admission full).
    expect(res.status, `no 5xx but a 503: ${what}`).toBe(503)
    expect(res.headers['retry-after'], `a 503 says when to come back: ${what}`).toMatch(/^\d+$/)
    if (req.method !== 'HEAD') expect(code, what).toBe('E_OVERLOADED')
  }
  if (res.status >= 400 || (res.status < 300 && (isRead(req) || isDryRun(req)))) {
    const after = await t.snapshot()
    expect(after, `${res.status >= 400 ? 'a refusal' : 'a read'} changed nothing: ${what}`).toEqual(
      before,
    )
  }
  if (res.stream) {
    // Cut by us: the coordinator lets go of it (a stream kept would hold its client's slot).
    const until = Date.now() + 5000
    while ((await t.co.inspect()).streams.length > 0) {
      if (Date.now() > until) throw new Error(`a cut stream was kept for 5 s: ${what}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(crashes, what).toEqual([])
  }
  if (res.status < 400) await t.settle?.()
  if (advanceMs > 0) t.clock?.advance(advanceMs)
  return res
}
