/** A real coordinator on an ephemeral loopback port, SDK clients, and a test origin that counts its calls. */

import { createParser, type EventSourceMessage } from 'eventsource-parser'
import { afterAll } from 'vitest'
import type { ConfigInput } from '../../src/config/schema.js'
import { type CoordinatorOptions, createCoordinator } from '../../src/coordinator/coordinator.js'
import { realClock } from '../../src/limiter/clock.js'
import {
  type ClientOptions,
  createClient,
  devSigningKeys,
  type SlewClient,
} from '../../src/sdk/index.js'

export const startCoordinator = async (
  config: ConfigInput = {},
  opts: Omit<CoordinatorOptions, 'config'> = {},
) => {
  const co = createCoordinator({ config, log: () => {}, processMetrics: false, ...opts })
  const { url } = await co.listen({ host: '127.0.0.1', port: 0 })
  return { co, url }
}

/** The origin: every call recorded with its time (the coordinator's clock), answering after `latencyMs`. */
export const testOrigin = (latencyMs = 1) => {
  const calls: { at: number; key: string }[] = []
  let version = 1
  return {
    calls,
    bump: () => version++,
    load: async (key: string) => {
      calls.push({ at: realClock.now(), key })
      await new Promise((r) => setTimeout(r, latencyMs))
      return `${key}@v${version}`
    },
  }
}

export const clients = <V>(
  n: number,
  base: Omit<ClientOptions<V>, 'clientId' | 'signingKeys'> &
    Partial<Pick<ClientOptions<V>, 'signingKeys'>>,
): SlewClient<V>[] =>
  Array.from({ length: n }, (_, i) =>
    createClient<V>({ signingKeys: devSigningKeys, clientId: `app-${i}`, ...base }),
  )

export const waitFor = async (
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
  stepMs = 25,
) => {
  const until = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, stepMs))
  }
}

/** Most events in any window of `windowMs` (times in ms, any order). */
export const peakIn = (times: readonly number[], windowMs: number): number => {
  const t = [...times].sort((a, b) => a - b)
  let peak = 0
  let j = 0
  for (let i = 0; i < t.length; i++) {
    while (t[j]! <= t[i]! - windowMs) j++
    peak = Math.max(peak, i - j + 1)
  }
  return peak
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

/** A rewarm's keys as NDJSON (the change on the first line, then one key per line), as a push job sends them. */
export const pushKeys = (
  url: string,
  keys: readonly string[],
  change: Record<string, unknown> = { kind: 'rewarm' },
) =>
  fetch(`${url}/v1/changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: [JSON.stringify(change), ...keys.map((k) => JSON.stringify(k))].join('\n'),
  })

/** Things to close after the file's tests, last opened first: push a closer as each is opened. */
export const closeAfterAll = (): (() => Promise<void>)[] => {
  const closers: (() => Promise<void>)[] = []
  afterAll(async () => {
    for (const c of closers.reverse()) await c()
  })
  return closers
}

export interface RawStream {
  readonly status: number
  readonly headers: Response['headers']
  readonly body: string | undefined
  readonly events: (EventSourceMessage & { receivedAt: number })[]
  of(type: string): (EventSourceMessage & { receivedAt: number })[]
  close(): Promise<void>
}

/**
 * One raw SSE connection to `GET /v1/stream` (no SDK): every event as parsed
 * off the wire, with when it arrived. `status` and `headers` are the
 * response's; a refusal's body is in `body`. `close()` cuts it. (Its type
 * is named: inferred, it points into node_modules, which tsc refuses where
 * node_modules is a link, as in a git worktree.)
 */
export const openStream = async (
  url: string,
  clientId: string,
  opts: { headers?: Record<string, string>; query?: string } = {},
): Promise<RawStream> => {
  const abort = new AbortController()
  const events: (EventSourceMessage & { receivedAt: number })[] = []
  const res = await fetch(
    `${url}/v1/stream?clientId=${encodeURIComponent(clientId)}${opts.query ?? ''}`,
    { headers: opts.headers ?? {}, signal: abort.signal },
  )
  let body: string | undefined
  let done: Promise<void> = Promise.resolve()
  if (res.status === 200 && res.body) {
    const parser = createParser({ onEvent: (e) => events.push({ ...e, receivedAt: Date.now() }) })
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    done = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          parser.feed(value)
        }
      } catch {
        // cut (by close() or by the server)
      }
    })()
  } else {
    body = await res.text()
  }
  return {
    status: res.status,
    headers: res.headers,
    body,
    events,
    /** Events of one type so far. */
    of: (type: string) => events.filter((e) => e.event === type),
    close: async () => {
      abort.abort()
      await done
    },
  }
}

/** `GET /metrics`, as text. */
export const scrape = async (url: string): Promise<string> => (await fetch(`${url}/metrics`)).text()

/**
 * One series' value in Prometheus text: `name` with exactly these labels
 * (any order); undefined when the series is absent.
 */
export const metricValue = (
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined => {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',')
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const got = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter(Boolean)
      .sort()
      .join(',')
    if (got === want) return Number(m[3])
  }
  return undefined
}
