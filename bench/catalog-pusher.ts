/**
 * Child process for the catalog bench: single-key invalidations
 * (`POST /v1/changes`, `{ kind: 'invalidate', target: { keys: [k] } }`) at
 * `rate` per second for `windowMs`, open loop: push i is due at
 * start + i ÷ rate, and goes out then unless MAX_IN_FLIGHT requests are
 * already waiting for their answers (then as soon as one returns: the
 * coordinator not keeping up shows as sends behind schedule). Keys follow a
 * seeded shuffle of the universe (catalog-keys.ts), none twice. node:http
 * with one keep-alive agent.
 *
 * argv: port rate windowMs universe seed
 * IPC in:  { type: 'start' }
 * IPC out: { type: 'done', … } once the window is over and every push sent has its
 *          answer: per push [key, dueAt, sentAt, answeredAt, status, connectedAt] (epoch ms;
 *          status 0 for no answer), pushes not sent by the window's end, the first error
 */
import { Agent, request } from 'node:http'
import { keyName, pushOrder } from './catalog-keys.js'
import { epochMs, serve, sleep } from './proc.js'

const [port, rate, windowMs, universe, seed] = process.argv.slice(2).map(Number) as [
  number,
  number,
  number,
  number,
  number,
]
const MAX_IN_FLIGHT = 64
/**
 * Idle sockets are dropped after 4 s, before the coordinator's keep-alive
 * timeout (5 s) would close them under a request being sent (an ECONNRESET
 * race that is the pusher's, not the coordinator's). A request under way is
 * not cut by it.
 */
const agent = new Agent({ keepAlive: true, maxSockets: MAX_IN_FLIGHT, timeout: 4000 })
const order = pushOrder(universe, seed)
const total = Math.min(universe, Math.floor((rate * windowMs) / 1000))

const run = async () => {
  const dueAt = new Float64Array(total)
  const sentAt = new Float64Array(total)
  const answeredAt = new Float64Array(total)
  /** When its socket was connected (a new one's connect; at once for a kept-alive one). */
  const connectedAt = new Float64Array(total)
  const status = new Uint16Array(total)
  let inFlight = 0
  let sent = 0
  let answered = 0
  let firstError: string | undefined
  const t0 = epochMs()
  const end = t0 + windowMs
  const send = (i: number) => {
    const body = `{"kind":"invalidate","target":{"keys":[${JSON.stringify(keyName(order[i]!))}]}}`
    dueAt[i] = t0 + (i * 1000) / rate
    sentAt[i] = epochMs()
    inFlight++
    sent++
    const done = (code: number, text?: string) => {
      answeredAt[i] = epochMs()
      status[i] = code
      inFlight--
      answered++
      if (code !== 202 && firstError === undefined)
        firstError = `${code}: ${text ?? ''}`.slice(0, 300)
      pump()
    }
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/v1/changes',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => {
          text += d
        })
        res.on('end', () => done(res.statusCode ?? 0, text))
        res.on('error', (e) => done(0, String(e)))
      },
    )
    req.on('error', (e) => done(0, String(e)))
    req.on('socket', (sock) => {
      if (!sock.connecting) connectedAt[i] = epochMs()
      else sock.once('connect', () => (connectedAt[i] = epochMs()))
    })
    req.end(body)
  }
  /** Send every push due by now (none after the window), as in-flight room allows. */
  const pump = () => {
    const now = epochMs()
    if (now > end) return
    const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1)
    while (sent < due && inFlight < MAX_IN_FLIGHT) send(sent)
  }
  const tick = setInterval(pump, 1)
  pump()
  await sleep(Math.max(0, end - epochMs()))
  clearInterval(tick)
  // Every push sent gets its answer (or gives up after a minute).
  const giveUp = epochMs() + 60_000
  while (answered < sent && epochMs() < giveUp) await sleep(20)
  const pushes: [number, number, number, number, number, number][] = []
  for (let i = 0; i < sent; i++)
    pushes.push([order[i]!, dueAt[i]!, sentAt[i]!, answeredAt[i]!, status[i]!, connectedAt[i]!])
  return {
    type: 'done',
    t0,
    end,
    planned: total,
    sent,
    answered,
    notSent: total - sent,
    firstError,
    pushes,
  }
}

serve(async (m) => {
  if (m.type === 'start') return run()
  return undefined
})
