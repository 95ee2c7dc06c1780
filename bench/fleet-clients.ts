/**
 * Child process for the fleet-30k bench: `count` app servers' streams, each
 * a raw socket (no SDK, no HTTP client library) that behaves on the wire as
 * the SDK's stream does (src/sdk/stream.ts, connection.ts, backoff.ts):
 *
 *  - `GET /v1/stream?clientId&entries&nonce[&epoch]` with `Last-Event-ID`
 *    once it has applied a sequence number; a new nonce per attempt;
 *  - the chunked SSE body decoded and split into frames: `hello` (its
 *    epoch), `config` (kept, signed, as the proof a recall hands over),
 *    `change` (counted), `goaway` (its delay), `id:` (the resume point);
 *  - reconnects as the SDK does: full-jitter backoff `random · min(30 s,
 *    1 s · 2^attempt)`, the count reset once a stream lasted 60 s; a refusal's
 *    `retryAfterMs` (else Retry-After) obeyed plus up to 10 % jitter; a
 *    goaway's delay after a stream it ended;
 *  - optionally (`{ type: 'hello-calls', on }`), at each accepted hello what
 *    the SDK sends then: a heartbeat, and when the hello brings a new epoch,
 *    the recall of the epoch before (`POST /v1/clients/:id/recall`, the
 *    signed config frame as proof).
 *
 * Every client connects from a loopback address of its own (127.x.y.z, one
 * per app server, as a real fleet has), so no source address runs out of
 * ephemeral ports and no per-address cap applies that a real fleet would not
 * meet. Steady heartbeats are not sent here (heartbeat-senders.ts does).
 *
 * argv: port count from prefix reconnect(1|0)
 * IPC in:  { type: 'expect', total }  reset the change-frame count; `done` when `total` arrived
 *          { type: 'mark' }            from now, count clients back on a new epoch
 *          { type: 'hello-calls', on } heartbeat (and recall) at each hello, or not
 *          { type: 'status' }
 * IPC out: { type: 'done', count, firstAt, lastAt }, { type: 'status', … }
 */
import { createHash, randomBytes } from 'node:crypto'
import { Agent, request } from 'node:http'
import { connect, type Socket } from 'node:net'
import { epochMs, serve } from './proc.js'
import { ChunkedFrames } from './sse-chunked.js'

const [port, count, from, prefix, reconnectArg] = [
  Number(process.argv[2]),
  Number(process.argv[3]),
  Number(process.argv[4]),
  process.argv[5] ?? 'c',
  process.argv[6] ?? '1',
]
const RECONNECT = reconnectArg === '1'
const HOST = '127.0.0.1'
const ENTRIES = 100
/** The SDK's reconnect defaults (src/sdk/options.ts). */
const BASE_MS = 1000
const CAP_MS = 30_000
const RESET_AFTER_MS = 60_000
/** Node's fetch (undici) gives up on a response's headers after 300 s: so does the SDK's stream. */
const HEADERS_TIMEOUT_MS = 300_000
/** Streams being opened at once at the start (a gentle fill; reconnects are not held back). */
const FILL_IN_FLIGHT = 200

/** Client i's own loopback address: 127.(20+)…, never .0 or .255 in the last place. */
const addressOf = (g: number) =>
  `127.${20 + Math.floor(g / 62_500)}.${Math.floor(g / 250) % 250}.${2 + (g % 250)}`

const ids = Array.from({ length: count }, (_, i) => `${prefix}${from + i}`)
const sockets: (Socket | undefined)[] = new Array(count)
/** 0 waiting, 1 connecting (no status yet), 2 streaming (a 200), 3 refused (reading the body). */
const phase = new Uint8Array(count)
const attempt = new Uint8Array(count)
const openedAt = new Float64Array(count)
/** When the attempt under way began (performance.now()). */
const attemptAt = new Float64Array(count)
const seq = new Float64Array(count).fill(-1)
const goaway = new Float64Array(count).fill(-1)
const epochs: (string | undefined)[] = new Array(count)
/** The signed config frame's data (interned: the coordinator signs it once per version). */
const proofs: (string | undefined)[] = new Array(count)
/** Response bytes not yet taken apart: the head, a chunk-size line, a frame. */
const pending: string[] = new Array(count).fill('')
/** Chunked body: bytes left in the current chunk; -1 reading a size line; -2 the CRLF after a chunk. */
/** Status and told delay of a refusal being read. */
const toldMs = new Float64Array(count)
const bodyLeft = new Int32Array(count)
const wasRefused = new Uint8Array(count)

let opened = 0
let changes = 0
let expected = Number.POSITIVE_INFINITY
let firstAt = 0
let lastAt = 0
let helloCalls = false
// Since the last mark: what the restart looks like from here.
let markEpoch: string | undefined
let marked = false
let back = 0
let lastBackAt = 0
const backPerSec = new Map<number, number>()
let attempts = 0
let refusals = 0
let refusedAgain = 0
let connectErrors = 0
let cut = 0
let hbSent = 0
let hbFailed = 0
let recalls = 0
let recallsFailed = 0
const bump = (m: Map<number, number>, at: number) => {
  const s = Math.floor(at / 1000)
  m.set(s, (m.get(s) ?? 0) + 1)
}

// ---- the timing wheel for reconnects (10 ms slots)
const SLOT = 10
const wheel = new Map<number, number[]>()
let lastSlot = Math.floor(performance.now() / SLOT)
const later = (i: number, ms: number) => {
  // Never a slot the wheel has passed (it would not come round again).
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
    for (const i of list) open(i)
  }
  lastSlot = upTo + 1
}, SLOT)

const backoff = (i: number) => {
  const ceiling = Math.min(CAP_MS, BASE_MS * 2 ** attempt[i]!)
  if (BASE_MS * 2 ** attempt[i]! < CAP_MS) attempt[i]!++
  return Math.random() * ceiling
}

// An attempt the server never answers (its connection lost in a full accept queue) ends as
// the SDK's would: after undici's headers timeout, then the backoff.
setInterval(() => {
  const now = performance.now()
  for (let i = 0; i < count; i++)
    if (phase[i] === 1 && now - attemptAt[i]! > HEADERS_TIMEOUT_MS) sockets[i]?.destroy()
}, 5000).unref()

// ---- hello-time calls (heartbeat, recall), on one keep-alive agent
const agent = new Agent({ keepAlive: true, maxSockets: 16 })
const post = (path: string, body: string, done: (ok: boolean) => void) => {
  const req = request(
    {
      host: HOST,
      port,
      method: 'POST',
      path,
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      res.resume()
      res.on('end', () => done(res.statusCode === 200))
      res.on('error', () => done(false))
    },
  )
  req.on('error', () => done(false))
  req.end(body)
}
const digests = new Map<string, string>()
/** configDigest() of a config frame's values (protocol/messages.ts: sha256 of canonical JSON). */
const canonical = (v: unknown): string =>
  v === null || typeof v !== 'object'
    ? JSON.stringify(v)
    : Array.isArray(v)
      ? `[${v.map(canonical).join(',')}]`
      : `{${Object.keys(v)
          .sort()
          .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
          .join(',')}}`
const digestOf = (proof: string | undefined) => {
  if (proof === undefined) return createHash('sha256').update('{}').digest('base64url')
  let d = digests.get(proof)
  if (d === undefined) {
    const values = (JSON.parse(proof) as { values?: unknown }).values ?? {}
    d = createHash('sha256').update(canonical(values)).digest('base64url')
    digests.set(proof, d)
  }
  return d
}
const noise = (mid: number, spread: number) => mid + (Math.random() * 2 - 1) * spread
const heartbeat = (i: number) => {
  const body = JSON.stringify({
    ...(seq[i]! >= 0 && { ackedSeq: seq[i] }),
    ...(epochs[i] !== undefined && { epoch: epochs[i] }),
    configDigest: digestOf(proofs[i]),
    entries: ENTRIES,
    capacity: 1000,
    calls: 20,
    errorRate: Math.round(noise(0.01, 0.002) * 1e5) / 1e5,
    latencyP50: Math.round(noise(5, 0.5) * 100) / 100,
    latencyP99: Math.round(noise(20, 2) * 100) / 100,
    intervalMs: 10_000,
    rejected: {},
  })
  hbSent++
  post(`/v1/clients/${encodeURIComponent(ids[i]!)}/heartbeat`, body, (ok) => {
    if (!ok) hbFailed++
  })
}
const recall = (i: number, before: string) => {
  const proof = proofs[i]
  const body = `{"epoch":${JSON.stringify(before)},"configDigest":"${digestOf(proof)}"${proof ? `,"config":[${proof}]` : ''},"hard":[]}`
  recalls++
  post(`/v1/clients/${encodeURIComponent(ids[i]!)}/recall`, body, (ok) => {
    if (!ok) recallsFailed++
  })
}

// ---- one frame of a stream
const interned = new Map<string, string>()
const intern = (s: string) => {
  const have = interned.get(s)
  if (have !== undefined) return have
  if (interned.size > 64) interned.clear()
  interned.set(s, s)
  return s
}
const frame = (i: number, text: string) => {
  let event = 'message'
  let data = ''
  for (const line of text.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7)
    else if (line.startsWith('data: ')) data = line.slice(6)
    else if (line.startsWith('id: ')) seq[i] = Number(line.slice(4))
  }
  if (event === 'ping') return
  if (event === 'change') {
    changes++
    const now = epochMs()
    if (changes === 1) firstAt = now
    lastAt = now
    if (changes >= expected) {
      expected = Number.POSITIVE_INFINITY
      process.send!({ type: 'done', count: changes, firstAt, lastAt })
    }
    return
  }
  if (event === 'hello') {
    const epoch = intern((JSON.parse(data) as { epoch: string }).epoch)
    const before = epochs[i]
    epochs[i] = epoch
    if (marked && epoch !== markEpoch && before !== epoch) {
      back++
      const now = epochMs()
      lastBackAt = now
      bump(backPerSec, now)
    }
    if (helloCalls) {
      if (before !== undefined && before !== epoch) recall(i, before)
      heartbeat(i)
    }
    return
  }
  if (event === 'config') proofs[i] = intern(data)
  else if (event === 'goaway')
    goaway[i] = (JSON.parse(data) as { retryAfterMs: number }).retryAfterMs
}

/** Each client's stream body, decoded into frames. */
const sse = new ChunkedFrames(count, frame)

const read = (i: number, s: string) => {
  if (phase[i] === 2) return sse.feed(i, s)
  if (phase[i] === 3) {
    pending[i] += s
    bodyLeft[i]! -= s.length
    if (bodyLeft[i]! <= 0) refusalRead(i)
    return
  }
  const head = pending[i]! + s
  const end = head.indexOf('\r\n\r\n')
  if (end < 0) {
    pending[i] = head
    return
  }
  pending[i] = ''
  const status = head.slice(9, 12)
  const rest = head.slice(end + 4)
  if (status === '200') {
    phase[i] = 2
    opened++
    openedAt[i] = performance.now()
    wasRefused[i] = 0
    sse.start(i)
    filled(i)
    if (rest.length > 0) sse.feed(i, rest)
    return
  }
  // A refusal: its problem body says when to come back (retryAfterMs), else Retry-After.
  refusals++
  if (wasRefused[i]) refusedAgain++
  wasRefused[i] = 1
  phase[i] = 3
  const headers = head.slice(0, end).toLowerCase()
  const len = /\r\ncontent-length: *(\d+)/.exec(headers)
  const after = /\r\nretry-after: *(\d+)/.exec(headers)
  toldMs[i] = after ? Number(after[1]) * 1000 : -1
  pending[i] = rest
  bodyLeft[i] = (len ? Number(len[1]) : 0) - rest.length
  if (bodyLeft[i]! <= 0) refusalRead(i)
}

const refusalRead = (i: number) => {
  const m = /"retryAfterMs":(\d+)/.exec(pending[i]!)
  pending[i] = ''
  const told = m ? Number(m[1]) : toldMs[i]!
  const wait = told >= 0 ? told * (1 + 0.1 * Math.random()) : backoff(i)
  end(i, wait)
  filled(i)
}

/** The attempt is over (the socket is destroyed, if not already): the next one in `wait` ms. */
const end = (i: number, wait: number) => {
  const s = sockets[i]
  sockets[i] = undefined
  phase[i] = 0
  pending[i] = ''
  sse.start(i)
  s?.destroy()
  if (RECONNECT) later(i, wait)
}

const closed = (i: number, s: Socket) => {
  if (sockets[i] !== s) return
  if (phase[i] === 2) {
    // A stream that ended: the backoff count resets after a long one; a goaway's delay wins.
    opened--
    cut++
    if (performance.now() - openedAt[i]! >= RESET_AFTER_MS) attempt[i] = 0
    const told = goaway[i]!
    goaway[i] = -1
    end(i, told >= 0 ? told : backoff(i))
  } else if (phase[i] === 3) {
    refusalRead(i)
  } else {
    connectErrors++
    end(i, backoff(i))
  }
  filled(i)
}

// One read buffer for every socket (`onread`): reads are handled at once.
const READ_BUF = Buffer.alloc(256 * 1024)
const open = (i: number) => {
  if (sockets[i]) return
  attempts++
  phase[i] = 1
  attemptAt[i] = performance.now()
  pending[i] = ''
  const s = connect({
    port,
    host: HOST,
    localAddress: addressOf(from + i),
    onread: {
      buffer: READ_BUF,
      callback: (n: number, buf: Uint8Array) => {
        if (sockets[i] === s) read(i, Buffer.from(buf.buffer, buf.byteOffset, n).toString('latin1'))
        return true
      },
    },
  })
  sockets[i] = s
  s.on('connect', () => {
    const q = `clientId=${encodeURIComponent(ids[i]!)}&entries=${ENTRIES}&nonce=${randomBytes(12).toString('base64url')}${epochs[i] ? `&epoch=${epochs[i]}` : ''}`
    const last = seq[i]! >= 0 ? `last-event-id: ${seq[i]}\r\n` : ''
    s.write(
      `GET /v1/stream?${q} HTTP/1.1\r\nhost: ${HOST}:${port}\r\naccept: text/event-stream\r\n${last}\r\n`,
    )
  })
  s.on('error', () => {})
  s.on('close', () => closed(i, s))
}

// ---- the fill: FILL_IN_FLIGHT at a time, then each stream on its own
let next = 0
/** Fill attempts under way (opened, not yet a 200 or over). */
let filling = 0
const fillingOf = new Uint8Array(count)
const filled = (i?: number) => {
  if (i !== undefined && fillingOf[i]) {
    fillingOf[i] = 0
    filling--
  }
  while (next < count && filling < FILL_IN_FLIGHT) {
    fillingOf[next] = 1
    filling++
    open(next++)
  }
}
filled()

serve((m) => {
  if (m.type === 'expect') {
    changes = 0
    firstAt = 0
    lastAt = 0
    expected = Number(m.total)
    return undefined
  }
  if (m.type === 'hello-calls') {
    helloCalls = Boolean(m.on)
    return { type: 'hello-calls' }
  }
  if (m.type === 'mark') {
    // The epoch the clients follow now: a hello of any other counts as back.
    const seen = new Map<string, number>()
    for (const e of epochs) if (e) seen.set(e, (seen.get(e) ?? 0) + 1)
    markEpoch = [...seen].sort((a, b) => b[1] - a[1])[0]?.[0]
    marked = true
    back = 0
    lastBackAt = 0
    backPerSec.clear()
    attempts = 0
    refusals = 0
    refusedAgain = 0
    connectErrors = 0
    cut = 0
    hbSent = 0
    hbFailed = 0
    recalls = 0
    recallsFailed = 0
    return { type: 'mark', epoch: markEpoch }
  }
  if (m.type === 'status') {
    // Attempts that have waited 20 s for an answer (a connection the server never took up).
    const now = performance.now()
    const stuck: { id: string; phase: number; waitedMs: number; got: string }[] = []
    let waiting = 0
    for (let i = 0; i < count; i++) {
      if ((phase[i] !== 1 && phase[i] !== 3) || now - attemptAt[i]! < 20_000) continue
      waiting++
      if (stuck.length < 5)
        stuck.push({
          id: ids[i]!,
          phase: phase[i]!,
          waitedMs: Math.round(now - attemptAt[i]!),
          got: pending[i]!.slice(0, 120),
        })
    }
    return {
      type: 'status',
      waiting,
      stuck,
      count,
      open: opened,
      changes,
      back,
      lastBackAt,
      backPerSec: [...backPerSec],
      attempts,
      refusals,
      refusedAgain,
      connectErrors,
      cut,
      hbSent,
      hbFailed,
      recalls,
      recallsFailed,
    }
  }
  return undefined
})
