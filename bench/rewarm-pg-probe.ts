/**
 * Child process for the rewarm-pg bench: PostgreSQL's own latency, apart from
 * the app servers'. One connection, the same prepared primary-key query on a
 * random product every `everyMs` (one at a time), from a process doing
 * nothing else, so its event loop adds next to nothing to what it measures
 * (the fleet's latency includes its busy event loops). At 200 queries/s it
 * adds about 1 % to the origin's load.
 *
 * argv: databaseUrl rows everyMs
 * IPC in:  { type: 'take' }  latencies per epoch second since the last take, then start over
 * IPC out: { type: 'ready' }, { type: 'take', starts: [], seconds, loopDelay: [] }
 */
import pg from 'pg'
import { productLoader } from '../examples/pg-origin.js'
import { epochMs, serve } from './proc.js'

const [, , databaseUrl, rowsArg, everyArg] = process.argv
const ROWS = Number(rowsArg)
const EVERY_MS = Number(everyArg ?? 5)

const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, idleTimeoutMillis: 0 })
const load = productLoader(pool)
let seconds = new Map<number, Map<number, number>>()

const probe = async () => {
  for (;;) {
    const t0 = epochMs()
    await load(`product:${1 + Math.floor(Math.random() * ROWS)}`).catch(() => {})
    const t1 = epochMs()
    const sec = Math.floor(t1 / 1000)
    const h = seconds.get(sec) ?? new Map<number, number>()
    seconds.set(sec, h)
    const b = Math.round((t1 - t0) * 10)
    h.set(b, (h.get(b) ?? 0) + 1)
    await new Promise((r) => setTimeout(r, Math.max(0, EVERY_MS - (t1 - t0))))
  }
}

serve((m) => {
  if (m.type !== 'take') return undefined
  const out = {
    type: 'take',
    starts: [],
    seconds: [...seconds].map(([s, h]) => [s, [...h]]),
    loopDelay: [],
  }
  seconds = new Map()
  return out
})
void probe()
process.send!({ type: 'ready' })
