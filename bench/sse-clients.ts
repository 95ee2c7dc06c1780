/**
 * Child process: N raw-socket SSE readers (no SDK, no HTTP client library:
 * a GET written by hand, the response bytes scanned for `event: change`).
 * Used by fanout (counts frames) and stream-memory (only holds the streams).
 *
 * argv: port path count idPrefix
 * IPC in:  { type: 'expect', total }  reset the frame count; report when `total` frames arrived
 *          { type: 'status' }
 * IPC out: { type: 'connected', ok, failed, ms } once every stream got its 200 headers
 *          { type: 'done', count, firstAt, lastAt }  (epoch ms, see proc.ts)
 */
import { connect, type Socket } from 'node:net'
import { epochMs, serve } from './proc.js'

const [port, path, count, prefix] = [
  Number(process.argv[2]),
  process.argv[3]!,
  Number(process.argv[4]),
  process.argv[5] ?? 'c',
]
const NEEDLE = Buffer.from('event: change')
const HEADER_END = Buffer.from('\r\n\r\n')

let frames = 0
let expected = Number.POSITIVE_INFINITY
let firstAt = 0
let lastAt = 0
let ok = 0
let failed = 0
let connectedSent = false
const started = epochMs()
const sockets: Socket[] = []

const counted = (n: number) => {
  if (n === 0) return
  const now = epochMs()
  if (frames === 0) firstAt = now
  frames += n
  lastAt = now
  if (frames >= expected) {
    expected = Number.POSITIVE_INFINITY
    process.send!({ type: 'done', count: frames, firstAt, lastAt })
  }
}

const countIn = (buf: Buffer, from = 0): number => {
  let n = 0
  for (let i = buf.indexOf(NEEDLE, from); i >= 0; i = buf.indexOf(NEEDLE, i + NEEDLE.length)) n++
  return n
}

const settle = () => {
  if (!connectedSent && ok + failed === count) {
    connectedSent = true
    process.send!({ type: 'connected', ok, failed, ms: Math.round(epochMs() - started) })
  }
}

// One read buffer for every socket (`onread`): reads are handled at once, so
// counting allocates only a view per read and skips the stream machinery.
const READ_BUF = Buffer.alloc(256 * 1024)
const NL = 0x0a

const open = (i: number) =>
  new Promise<void>((resolve) => {
    let head: Buffer | undefined = Buffer.alloc(0)
    /** The last bytes of the previous read when it did not end a line (a frame split across reads). */
    let tail: Buffer | undefined
    const fail = () => {
      if (!head) return
      failed++
      head = undefined
      resolve()
      settle()
    }
    const read = (chunk: Buffer) => {
      let body = chunk
      if (head) {
        head = Buffer.concat([head, chunk])
        const end = head.indexOf(HEADER_END)
        if (end < 0) return
        const status = head.subarray(0, 12).toString('latin1')
        body = head.subarray(end + 4)
        head = undefined
        if (status === 'HTTP/1.1 200') ok++
        else {
          failed++
          s.destroy()
        }
        resolve()
        settle()
      }
      if (body.length === 0) return
      let n = 0
      if (tail) {
        const seam = Buffer.concat([tail, body.subarray(0, NEEDLE.length - 1)])
        const at = seam.indexOf(NEEDLE)
        if (at >= 0 && at < tail.length) n++
        tail = undefined
      }
      n += countIn(body)
      // `event: change` has no newline: it can only straddle reads if this one ends mid-line.
      if (body[body.length - 1] !== NL)
        tail = Buffer.from(body.subarray(Math.max(0, body.length - (NEEDLE.length - 1))))
      counted(n)
    }
    const s = connect({
      port,
      host: '127.0.0.1',
      onread: {
        buffer: READ_BUF,
        callback: (n: number, buf: Uint8Array) => {
          read(Buffer.from(buf.buffer, buf.byteOffset, n))
          return true
        },
      },
    })
    sockets.push(s)
    const sep = path.includes('?') ? '&' : '?'
    s.on('connect', () => {
      s.write(
        `GET ${path}${sep}clientId=${prefix}${i} HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n`,
      )
    })
    s.on('error', fail)
    s.on('close', fail)
  })

// Open the streams 200 at a time (what a fleet's reconnect storm looks like to one server, gently).
const run = async () => {
  const inFlight = new Set<Promise<unknown>>()
  for (let i = 0; i < count; i++) {
    const p: Promise<unknown> = open(i).then(() => inFlight.delete(p))
    inFlight.add(p)
    if (inFlight.size >= 200) await Promise.race(inFlight)
  }
  await Promise.all(inFlight)
  settle()
}

serve((m) => {
  if (m.type === 'expect') {
    frames = 0
    firstAt = 0
    lastAt = 0
    expected = Number(m.total)
    return undefined
  }
  if (m.type === 'status') return { type: 'status', count: frames, ok, failed, firstAt, lastAt }
  return undefined
})
void run()
