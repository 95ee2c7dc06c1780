/**
 * Child process for the heartbeat-load bench: the heartbeats of `count`
 * clients (ids `<prefix><from>` …), each on its own interval, the way the
 * SDK sends them (src/sdk/heartbeats.ts, SlewClient #pace): every
 * `baseMs` (the SDK's default heartbeatMs, 10,000) from a random phase; one
 * at a time per client (one due while one is in flight goes out after it);
 * when an answer asks for `heartbeatMs` (a gate compares the client) the
 * interval becomes min(asked, baseMs) from that answer on, and back to
 * `baseMs` once an answer no longer asks (a changed pace starts at a
 * random phase within the new interval, as the SDK's #pace does). No SDK, no
 * fetch: node:http with one keep-alive agent (MAX_SOCKETS connections).
 *
 * Each heartbeat carries origin figures (20 calls, error rate and latency
 * with a little noise) and an app count, so a gate has samples to judge.
 *
 * argv: port prefix from count baseMs
 * IPC in:  { type: 'start', port }  heartbeat to this port (fresh random phases)
 *          { type: 'stop' }         stop; answered once nothing is in flight
 *          { type: 'reset' }        start a new latency window
 *          { type: 'take' }         the window so far: latency histogram, answers, errors
 *          { type: 'seconds' }      per epoch second, whole run: heartbeats sent (and by
 *                                   paced clients), answered, paces started and ended,
 *                                   clients paced
 * IPC out: { type: 'stopped' }, { type: 'take', … }, { type: 'seconds', … }
 */
import { Agent, request } from 'node:http'
import { epochMs, serve } from './proc.js'

const [, , portArg, prefix, fromArg, countArg, baseArg] = process.argv
const FROM = Number(fromArg)
const COUNT = Number(countArg)
const BASE_MS = Number(baseArg ?? 10_000)
const SLOT_MS = 5
const MAX_SOCKETS = 48
let port = Number(portArg)

/** Per client (index i ↔ id `${prefix}${FROM + i}`). */
const ids = Array.from({ length: COUNT }, (_, i) => `${prefix}${FROM + i}`)
const paths = ids.map((id) => `/v1/clients/${encodeURIComponent(id)}/heartbeat`)
const interval = new Float64Array(COUNT).fill(BASE_MS)
const nextAt = new Float64Array(COUNT)
const lastSentAt = new Float64Array(COUNT)
const inFlight = new Uint8Array(COUNT)
const queued = new Uint8Array(COUNT)
let ackedSeq = 0

/** The timing wheel: slot (SLOT_MS of monotonic time) → clients due then. */
const wheel = new Map<number, number[]>()
const schedule = (i: number, at: number) => {
  nextAt[i] = at
  const slot = Math.floor(at / SLOT_MS)
  const list = wheel.get(slot)
  if (list) list.push(i)
  else wheel.set(slot, [i])
}

let running = false
let generation = 0
let pacedNow = 0
let sent = 0
let answered = 0
let errors = 0
/** Latency, ms × 100 (10 µs buckets) → count, since the last reset. */
let hist = new Map<number, number>()
let windowAnswers = 0
let windowErrors = 0
let windowTold = 0
/** Distinct clients told to pace since the last reset. */
let windowPaced = new Set<number>()
/**
 * Per epoch second: heartbeats sent (and of them, by clients paced then),
 * answers received, answers that started (`up`) or ended (`down`) a client's
 * pacing, and clients paced at its end.
 */
const sentPerSecond = new Map<number, number>()
const sentPacedPerSecond = new Map<number, number>()
const perSecond = new Map<number, number>()
const upPerSecond = new Map<number, number>()
const downPerSecond = new Map<number, number>()
const bump = (m: Map<number, number>, sec: number) => m.set(sec, (m.get(sec) ?? 0) + 1)
const pacedAt = new Map<number, number>()

let agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS })

const noise = (mid: number, spread: number) => mid + (Math.random() * 2 - 1) * spread

const bodyOf = (i: number, now: number): string => {
  const intervalMs = Math.max(1, Math.round(lastSentAt[i] ? now - lastSentAt[i]! : interval[i]!))
  lastSentAt[i] = now
  return JSON.stringify({
    ackedSeq,
    entries: 100,
    capacity: 1000,
    calls: 20,
    errorRate: Math.round(noise(0.01, 0.002) * 1e5) / 1e5,
    latencyP50: Math.round(noise(5, 0.5) * 100) / 100,
    latencyP99: Math.round(noise(20, 2) * 100) / 100,
    intervalMs,
    metrics: { orders: 1 + Math.floor(Math.random() * 5) },
  })
}

/** What the SDK does with an answer's `heartbeatMs` (askedPace, then #pace). */
const paced = (i: number, answer: unknown, now: number) => {
  const raw = (answer as { heartbeatMs?: unknown } | null)?.heartbeatMs
  const asked = typeof raw === 'number' && Number.isFinite(raw) && raw >= 100 ? raw : undefined
  if (asked !== undefined) {
    windowTold++
    windowPaced.add(i)
  }
  const ms = Math.min(asked ?? BASE_MS, BASE_MS)
  if (ms === interval[i]) return
  const sec = Math.floor(epochMs() / 1000)
  if (ms < BASE_MS && interval[i] === BASE_MS) {
    pacedNow++
    bump(upPerSecond, sec)
  } else if (ms === BASE_MS && interval[i]! < BASE_MS) {
    pacedNow--
    bump(downPerSecond, sec)
  }
  interval[i] = ms
  // A new pace starts at a random phase, as the SDK's #pace does.
  schedule(i, now + Math.random() * ms)
}

const beat = (i: number) => {
  if (inFlight[i]) {
    queued[i] = 1
    return
  }
  inFlight[i] = 1
  const gen = generation
  const started = performance.now()
  const body = bodyOf(i, started)
  sent++
  const sentSec = Math.floor(epochMs() / 1000)
  bump(sentPerSecond, sentSec)
  if (interval[i]! < BASE_MS) bump(sentPacedPerSecond, sentSec)
  const done = (ok: boolean, answer?: unknown) => {
    inFlight[i] = 0
    if (gen !== generation) return
    const now = performance.now()
    if (ok) {
      answered++
      windowAnswers++
      bump(perSecond, Math.floor(epochMs() / 1000))
      const b = Math.round((now - started) * 100)
      hist.set(b, (hist.get(b) ?? 0) + 1)
      const seq = (answer as { seq?: unknown } | null)?.seq
      if (typeof seq === 'number' && seq > ackedSeq) ackedSeq = seq
      paced(i, answer, now)
    } else {
      errors++
      windowErrors++
    }
    if (queued[i] && running) {
      queued[i] = 0
      beat(i)
    }
  }
  const req = request(
    {
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: paths[i],
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        if (res.statusCode !== 200) return done(false)
        try {
          done(true, JSON.parse(Buffer.concat(chunks).toString('utf8')))
        } catch {
          done(false)
        }
      })
      res.on('error', () => done(false))
    },
  )
  req.on('error', () => done(false))
  req.end(body)
}

let lastSlot = 0
const tick = () => {
  if (!running) return
  const now = performance.now()
  const upTo = Math.floor(now / SLOT_MS)
  for (let slot = lastSlot; slot <= upTo; slot++) {
    const list = wheel.get(slot)
    if (!list) continue
    wheel.delete(slot)
    for (const i of list) {
      // Rescheduled since (a pace changed): the entry for its new time runs it.
      if (Math.floor(nextAt[i]! / SLOT_MS) !== slot) continue
      // setInterval's cadence: the next from when this one fired.
      schedule(i, now + interval[i]!)
      beat(i)
    }
  }
  lastSlot = upTo + 1
}
setInterval(tick, SLOT_MS)
// Paced clients at the end of each second (the answers so far say so), looked at every tick.
let second = Math.floor(epochMs() / 1000)
setInterval(() => {
  const now = Math.floor(epochMs() / 1000)
  for (; second < now; second++) pacedAt.set(second, pacedNow)
}, SLOT_MS)

const start = (to: number) => {
  generation++
  agent.destroy()
  agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS })
  port = to
  wheel.clear()
  interval.fill(BASE_MS)
  inFlight.fill(0)
  queued.fill(0)
  lastSentAt.fill(0)
  pacedNow = 0
  ackedSeq = 0
  const now = performance.now()
  lastSlot = Math.floor(now / SLOT_MS)
  // A fleet started at random times: a uniform phase over one interval.
  for (let i = 0; i < COUNT; i++) schedule(i, now + Math.random() * BASE_MS)
  running = true
}

serve(async (m) => {
  if (m.type === 'start') {
    start(Number(m.port))
    return { type: 'started' }
  }
  if (m.type === 'stop') {
    running = false
    wheel.clear()
    for (let k = 0; k < 200 && inFlight.some((x) => x === 1); k++)
      await new Promise((r) => setTimeout(r, 10))
    generation++
    agent.destroy()
    return { type: 'stopped', sent, answered, errors }
  }
  if (m.type === 'reset') {
    hist = new Map()
    windowAnswers = 0
    windowErrors = 0
    windowTold = 0
    windowPaced = new Set()
    return { type: 'reset' }
  }
  if (m.type === 'take') {
    return {
      type: 'take',
      hist: [...hist],
      answers: windowAnswers,
      errors: windowErrors,
      told: windowTold,
      pacedDistinct: windowPaced.size,
      pacedNow,
    }
  }
  if (m.type === 'seconds')
    return {
      type: 'seconds',
      sent: [...sentPerSecond],
      sentPaced: [...sentPacedPerSecond],
      answers: [...perSecond],
      up: [...upPerSecond],
      down: [...downPerSecond],
      paced: [...pacedAt],
    }
  return undefined
})
