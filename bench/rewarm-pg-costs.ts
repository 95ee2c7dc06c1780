/**
 * What one lease call and one origin call cost in CPU, measured in the
 * rewarm-pg bench's own process (node and tsx, like the fleet's): `n` lease
 * calls one after the other through the SDK's own `postJson` (the body, the
 * timeout and the keep-alive agents a client uses) to the coordinator, the
 * same over bare node:http with a keep-alive agent (a baseline), and `n` primary-key queries
 * through the example's `load`. Each side's CPU from process.cpuUsage and
 * /proc: this process (the app server's side), the coordinator, PostgreSQL.
 */
import { Agent, request } from 'node:http'
import pg from 'pg'
import { closeAgents, keepAliveAgents, postJson } from '../dist/sdk/http.js'
import { productLoader } from '../examples/pg-origin.js'
import { type CpuMark, coresBetween, cpuMark } from './rewarm-pg-procs.js'

export interface UnitCosts {
  /** µs of CPU per lease call: this process, the coordinator. */
  readonly lease: { client: number; coordinator: number }
  /** The same lease call over node:http with a keep-alive agent, no abort signals (a baseline). */
  readonly bareLease: { client: number; coordinator: number }
  /** µs of CPU per query: this process, PostgreSQL. */
  readonly query: { client: number; postgres: number }
}

const ownCpuUs = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/** µs per call of this process and of the others (from two marks). */
const per = async (n: number, coordinatorPid: number, call: (i: number) => Promise<unknown>) => {
  const a: CpuMark = cpuMark(coordinatorPid, [])
  const own = ownCpuUs()
  for (let i = 0; i < n; i++) await call(i)
  const ownUs = (ownCpuUs() - own) / n
  const c = coresBetween(a, cpuMark(coordinatorPid, []))
  const wallMs = performance.now() - a.at
  return {
    own: ownUs,
    coordinator: (c.coordinator * wallMs * 1000) / n,
    postgres: (c.postgres * wallMs * 1000) / n,
  }
}

export const unitCosts = async (
  o: { url: string; pid: number; databaseUrl: string; rows: number },
  n = 2000,
): Promise<UnitCosts> => {
  // As a client holds it: its own keep-alive agents, the lease's timeout.
  const remote = { url: o.url, agents: keepAliveAgents() }
  const lease = () =>
    postJson(
      remote,
      '/v1/leases',
      { clientId: 'bench-costs', want: 8, class: 'invalidate' },
      { timeoutMs: 1000 },
    )
  const body = JSON.stringify({ clientId: 'bench-costs', want: 8, class: 'invalidate' })
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const bareLease = () =>
    new Promise((resolve, reject) => {
      const req = request(
        `${o.url}/v1/leases`,
        {
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => {
            text += chunk
          })
          res.on('end', () => resolve(JSON.parse(text)))
        },
      )
      req.on('error', reject)
      req.end(body)
    })
  const pool = new pg.Pool({ connectionString: o.databaseUrl, max: 1 })
  const load = productLoader(pool)
  try {
    // Warm both paths (connections, JIT), not kept.
    for (let i = 0; i < 200; i++)
      await Promise.all([lease(), bareLease(), load(`product:${1 + i}`)])
    const l = await per(n, o.pid, lease)
    const bare = await per(n, o.pid, bareLease)
    const q = await per(n, o.pid, (i) => load(`product:${1 + ((i * 7919) % o.rows)}`))
    return {
      lease: { client: l.own, coordinator: l.coordinator },
      bareLease: { client: bare.own, coordinator: bare.coordinator },
      query: { client: q.own, postgres: q.postgres },
    }
  } finally {
    agent.destroy()
    closeAgents(remote.agents)
    await pool.end()
  }
}
