/**
 * Child process for the catalog bench: `count` app servers (ids `cat<from>` …),
 * each a raw-socket SSE stream (no SDK, no HTTP client library) from a
 * loopback address of its own, each holding a deterministic share of the
 * catalog's keys (catalog-keys.ts), and each heartbeating every `hbMs`
 * from a random phase, as the SDK does:
 *
 *  - mode `sketch`: the first heartbeat, as soon as its stream is open,
 *    carries the client's Bloom filter (over its keys, fpr `fpr`, in the
 *    SDK's shape: ladderSize); every later one `sketch: { added: [] }` (it caches nothing
 *    new), which keeps the sketch fresh; an answer `sketch: 'want'` makes
 *    the next heartbeat carry the filter again (as the SDK does);
 *  - mode `baseline`: the same heartbeats without `sketch` (today's clients).
 *
 * Every heartbeat carries ackedSeq (the last `id:` read), epoch, entries and
 * capacity. Heartbeats go over one keep-alive agent (MAX_SOCKETS connections
 * from 127.0.0.1: SLEW_BENCH_CATALOG_HB_SOCKETS, 16).
 *
 * Each `change` frame's key is read from its data (`"keys":["sku:<k>"`: a
 * key names its push, none is pushed twice) and counted: per key, the
 * holders that got it and when the last of them did (epoch ms, proc.ts);
 * frames to a client that does not hold the key are false positives. A
 * stream that ends is opened again after 1 s (and jitter), resuming from its
 * last id; such cuts and any `reset` frames are counted.
 *
 * argv: port count from mode universe perClient seed hbMs fpr
 * IPC in:  { type: 'status' }  streams open, heartbeats (sent, answered, failed, first
 *                              answered, 'want' answers), frames so far
 *          { type: 'mark' }    zero the frame counts (the window begins)
 *          { type: 'take' }    per key: [k, holders that got it, last holder's time, non-holders
 *                              that got it]; frames, false positives, cuts, resets
 * IPC out: { type: 'status', … }, { type: 'take', … }
 */
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { encodeSketch, fillSketch, ladderSize } from '../dist/invalidation/sketch.js'
import { holds, keyName, keysOf } from './catalog-keys.js'
import { epochMs, serve } from './proc.js'
import { ChunkedFrames } from './sse-chunked.js'

const [port, count, from, mode, universe, perClient, seed, hbMs, fpr] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  Number(process.argv[4]),
  process.argv[5] === 'sketch' ? 'sketch' : 'baseline',
  Number(process.argv[6]),
  Number(process.argv[7]),
  Number(process.argv[8]),
  Number(process.argv[9]),
  Number(process.argv[10]),
]
const HOST = '127.0.0.1'
/** Heartbeat connections per process (env SLEW_BENCH_CATALOG_HB_SOCKETS; 16). */
const MAX_SOCKETS = Number(process.env.SLEW_BENCH_CATALOG_HB_SOCKETS ?? 16)
/** Streams being opened at once during the fill. */
const FILL_IN_FLIGHT = 200
const RECONNECT_MS = 1000

/** Client i's own loopback address (as fleet-clients.ts: one per app server). */
const addressOf = (g: number) =>
  `127.${20 + Math.floor(g / 62_500)}.${Math.floor(g / 250) % 250}.${2 + (g % 250)}`

const ids = Array.from({ length: count }, (_, i) => `cat${from + i}`)
const keys = Array.from({ length: count }, (_, i) => keysOf(from + i, perClient, universe, seed))
const sockets: (Socket | undefined)[] = new Array(count)
/** 0 waiting, 1 connecting, 2 streaming. */
const phase = new Uint8Array(count)
const seq = new Float64Array(count).fill(-1)
const epochs: (string | undefined)[] = new Array(count)
const pending: string[] = new Array(count).fill('')
const wantFilter = new Uint8Array(count).fill(mode === 'sketch' ? 1 : 0)
const everOpen = new Uint8Array(count)

// ---- counts
let open = 0
let cuts = 0
let resets = 0
let changeFrames = 0
let falsePositives = 0
let hbSent = 0
let hbAnswered = 0
let hbFailed = 0
let filtersSent = 0
let wants = 0
/** Clients whose first heartbeat was answered (200). */
let firstAnswered = 0
const firstDone = new Uint8Array(count)
/** Per key: holders that got its push, the last one's time, non-holders that got it. */
const got = new Uint32Array(universe)
const lastAt = new Float64Array(universe)
const fpOf = new Uint32Array(universe)
/** Time of the socket read under way (one clock read per read, not per frame). */
let readAt = 0

// ---- heartbeats: a timing wheel of 10 ms slots
// Idle sockets dropped after 4 s, before the coordinator's keep-alive timeout (5 s) races a request.
const agent = new Agent({ keepAlive: true, maxSockets: MAX_SOCKETS, timeout: 4000 })
const SLOT = 10
const wheel = new Map<number, number[]>()
let lastSlot = Math.floor(performance.now() / SLOT)
const at = (i: number, ms: number) => {
  const slot = Math.max(lastSlot, Math.floor((performance.now() + ms) / SLOT))
  const list = wheel.get(slot)
  if (list) list.push(i)
  else wheel.set(slot, [i])
}
setInterval(() => {
  const upTo = Math.floor(performance.now() / SLOT)
  for (let s = lastSlot; s <= upTo; s++) {
    const list = wheel.get(s)
    if (!list) continue
    wheel.delete(s)
    for (const i of list) heartbeat(i)
  }
  lastSlot = upTo + 1
}, SLOT)

const filters = new Map<number, string>()
const filterOf = (i: number) => {
  let f = filters.get(i)
  if (f === undefined) {
    const names = Array.from(keys[i]!, keyName)
    f = JSON.stringify(encodeSketch(fillSketch(names, ladderSize(names.length, fpr))))
    filters.set(i, f)
  }
  return f
}

/** Clients whose steady heartbeats are scheduled (after the first, from a random phase). */
const paced = new Uint8Array(count)
const heartbeat = (i: number) => {
  // The next one, whatever becomes of this one: the first is followed at a random phase.
  at(i, paced[i] ? hbMs : Math.random() * hbMs)
  paced[i] = 1
  const withFilter = wantFilter[i] === 1
  const sketch =
    mode === 'sketch'
      ? withFilter
        ? `,"sketch":{"filter":${filterOf(i)}}`
        : ',"sketch":{"added":[]}'
      : ''
  const body = `{${seq[i]! >= 0 ? `"ackedSeq":${seq[i]},` : ''}${epochs[i] ? `"epoch":${JSON.stringify(epochs[i])},` : ''}"entries":${keys[i]!.length},"capacity":${perClient},"intervalMs":${hbMs}${sketch}}`
  hbSent++
  if (withFilter) {
    filtersSent++
    wantFilter[i] = 0
  }
  const req = request(
    {
      host: HOST,
      port,
      method: 'POST',
      path: `/v1/clients/${ids[i]}/heartbeat`,
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        text += d
      })
      res.on('end', () => {
        if (res.statusCode !== 200) {
          hbFailed++
          if (withFilter) wantFilter[i] = 1
          return
        }
        hbAnswered++
        if (!firstDone[i]) {
          firstDone[i] = 1
          firstAnswered++
        }
        if (mode === 'sketch' && text.includes('"sketch":"want"')) {
          wants++
          wantFilter[i] = 1
        }
      })
      res.on('error', () => hbFailed++)
    },
  )
  req.on('error', () => {
    hbFailed++
    if (withFilter) wantFilter[i] = 1
  })
  req.end(body)
}

// ---- one frame of a stream
const KEY_AT = '"keys":["sku:'
const frame = (i: number, text: string) => {
  if (text.startsWith('event: ping')) return
  let event = ''
  let data = ''
  for (const line of text.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7)
    else if (line.startsWith('data: ')) data = line.slice(6)
    else if (line.startsWith('id: ')) seq[i] = Number(line.slice(4))
  }
  if (event === 'change') {
    changeFrames++
    const a = data.indexOf(KEY_AT)
    if (a < 0) return
    const k = Number.parseInt(
      data.slice(a + KEY_AT.length, data.indexOf('"', a + KEY_AT.length)),
      10,
    )
    if (!(k >= 0 && k < universe)) return
    if (holds(keys[i]!, k)) {
      got[k]!++
      if (readAt > lastAt[k]!) lastAt[k] = readAt
    } else {
      falsePositives++
      fpOf[k]!++
    }
  } else if (event === 'hello') {
    const m = /"epoch":"([^"]*)"/.exec(data)
    if (m) epochs[i] = m[1]
  } else if (event === 'reset') resets++
}

/** Each client's stream body, decoded into frames. */
const sse = new ChunkedFrames(count, frame)

const read = (i: number, s: string) => {
  if (phase[i] === 2) return sse.feed(i, s)
  const head = pending[i]! + s
  const end = head.indexOf('\r\n\r\n')
  if (end < 0) {
    pending[i] = head
    return
  }
  pending[i] = ''
  if (head.slice(9, 12) !== '200') {
    // Refused (admission is opened up for the bench: not expected): try again later.
    sockets[i]?.destroy()
    return
  }
  phase[i] = 2
  open++
  sse.start(i)
  if (!everOpen[i]) {
    everOpen[i] = 1
    // The first heartbeat once its stream is open (the filter, in sketch mode); a fill slot frees.
    at(i, 0)
    filling--
    fill()
  }
  const rest = head.slice(end + 4)
  if (rest.length > 0) sse.feed(i, rest)
}

const closed = (i: number, s: Socket) => {
  if (sockets[i] !== s) return
  if (phase[i] === 2) {
    open--
    cuts++
  } else if (!everOpen[i]) {
    filling--
    fill()
  }
  sockets[i] = undefined
  phase[i] = 0
  pending[i] = ''
  sse.start(i)
  setTimeout(() => connectOne(i), RECONNECT_MS * (1 + Math.random()))
}

const READ_BUF = Buffer.alloc(256 * 1024)
const connectOne = (i: number) => {
  if (sockets[i]) return
  if (!everOpen[i]) filling++
  phase[i] = 1
  pending[i] = ''
  const s = connect({
    port,
    host: HOST,
    localAddress: addressOf(from + i),
    onread: {
      buffer: READ_BUF,
      callback: (n: number, buf: Uint8Array) => {
        readAt = epochMs()
        if (sockets[i] === s) read(i, Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1'))
        return true
      },
    },
  })
  sockets[i] = s
  s.on('connect', () => {
    const q = `clientId=${ids[i]}&entries=${keys[i]!.length}${epochs[i] ? `&epoch=${epochs[i]}` : ''}`
    const last = seq[i]! >= 0 ? `last-event-id: ${seq[i]}\r\n` : ''
    s.write(
      `GET /v1/stream?${q} HTTP/1.1\r\nhost: ${HOST}:${port}\r\naccept: text/event-stream\r\n${last}\r\n`,
    )
  })
  s.on('error', () => {})
  s.on('close', () => closed(i, s))
}

// ---- the fill: FILL_IN_FLIGHT streams being opened at a time
let next = 0
let filling = 0
const fill = () => {
  while (next < count && filling < FILL_IN_FLIGHT) connectOne(next++)
}
fill()

serve((m) => {
  if (m.type === 'status')
    return {
      type: 'status',
      count,
      open,
      cuts,
      resets,
      hbSent,
      hbAnswered,
      hbFailed,
      firstAnswered,
      filtersSent,
      wants,
      changeFrames,
      falsePositives,
    }
  if (m.type === 'mark') {
    changeFrames = 0
    falsePositives = 0
    cuts = 0
    resets = 0
    wants = 0
    got.fill(0)
    lastAt.fill(0)
    fpOf.fill(0)
    return { type: 'mark' }
  }
  if (m.type === 'take') {
    const perKey: [number, number, number, number][] = []
    for (let k = 0; k < universe; k++)
      if (got[k]! > 0 || fpOf[k]! > 0) perKey.push([k, got[k]!, lastAt[k]!, fpOf[k]!])
    return {
      type: 'take',
      perKey,
      changeFrames,
      falsePositives,
      cuts,
      resets,
      wants,
      hbSent,
      hbFailed,
    }
  }
  return undefined
})
