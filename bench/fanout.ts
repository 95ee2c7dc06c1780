/**
 * Stream fan-out: deliveries per second to 1,000 connected SSE clients
 * through a real slew coordinator, as a ratio to a bare hono `streamSSE`
 * broadcast to 1,000 clients of the same payload bytes, the same number of
 * times, in the same run.
 *
 * Three processes per system: the server (fanout-server.ts), the 1,000 raw
 * socket readers counting `event: change` frames (sse-clients.ts), and this
 * one, which pushes. Both systems stay up for the whole bench and their runs
 * alternate, so noise on the shared machine falls on both alike. Two ways of
 * pushing, each reported:
 *  - http: this process POSTs the changes (8 in flight): slew's real
 *    `POST /v1/changes` (validation, blast radius, engine, plan in the reply)
 *    against a bare `POST /broadcast` that parses the body and broadcasts;
 *  - in-process: the server pushes to itself, one push per event-loop turn:
 *    `coordinator.engine.submit(...)` against a bare broadcast loop.
 * A run's time is from the first push to the last frame counted at the clients.
 */
import { epochMs, median, sleep, spawnChild } from './proc.js'

const CLIENTS = Number(process.env.SLEW_BENCH_FANOUT_CLIENTS ?? 1000)
const PUSHES = Number(process.env.SLEW_BENCH_FANOUT_PUSHES ?? 60)
const REPS = Number(process.env.SLEW_BENCH_REPS ?? 5)
const IN_FLIGHT = 8

type System = 'slew' | 'hono'

const start = async (system: System) => {
  const server = spawnChild('fanout-server.ts', [system])
  const { port } = await server.next<{ type: 'ready'; port: number }>('ready', 30_000)
  const path = system === 'slew' ? '/v1/stream?entries=100' : '/stream'
  const clients = spawnChild('sse-clients.ts', [String(port), path, String(CLIENTS), system])
  const conn = await clients.next<{ type: 'connected'; ok: number; failed: number; ms: number }>(
    'connected',
    60_000,
  )
  if (conn.ok !== CLIENTS)
    throw new Error(`${system}: only ${conn.ok} of ${CLIENTS} streams opened`)
  return { system, server, clients, port, connectMs: conn.ms }
}
type Running = Awaited<ReturnType<typeof start>>

const changeBody = (i: number) =>
  JSON.stringify({ kind: 'invalidate', target: { keys: [`k${i}`] } })

/** One slew change frame, as a client receives it: its `data:` line is the baseline's payload. */
const sampleFrame = async (port: number, key: number): Promise<string> => {
  const ac = new AbortController()
  const res = await fetch(`http://127.0.0.1:${port}/v1/stream?clientId=probe&entries=100`, {
    signal: ac.signal,
  })
  const reader = res.body!.getReader()
  const post = fetch(`http://127.0.0.1:${port}/v1/changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: changeBody(key),
  })
  let text = ''
  const dec = new TextDecoder()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error('stream ended before a change frame')
    text += dec.decode(value, { stream: true })
    const at = text.indexOf('event: change\n')
    const end = at >= 0 ? text.indexOf('\n\n', at) : -1
    if (end >= 0) {
      await (await post).text()
      ac.abort()
      return text.slice(text.lastIndexOf('id:', at), end + 2)
    }
  }
}

const cpuOf = async (s: Running) => {
  const [server, clients] = await Promise.all([
    s.server.ask<{ type: 'cpu'; ms: number }>({ type: 'cpu' }, 'cpu'),
    s.clients.ask<{ type: 'cpu'; ms: number }>({ type: 'cpu' }, 'cpu'),
  ])
  return { server: server.ms, clients: clients.ms }
}

let nextKey = 1
const run = async (s: Running, mode: 'http' | 'in-process') => {
  const total = PUSHES * CLIENTS
  const cpu0 = await cpuOf(s)
  const done = s.clients.next<{ type: 'done'; count: number; lastAt: number }>('done', 120_000)
  s.clients.send({ type: 'expect', total })
  await sleep(20)
  const from = nextKey
  nextKey += PUSHES
  let startAt: number
  if (mode === 'http') {
    const url =
      s.system === 'slew'
        ? `http://127.0.0.1:${s.port}/v1/changes`
        : `http://127.0.0.1:${s.port}/broadcast`
    startAt = epochMs()
    let i = 0
    const worker = async () => {
      while (i < PUSHES) {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: changeBody(from + i++),
        })
        await res.text()
        if (res.status !== 202) throw new Error(`${s.system}: POST answered ${res.status}`)
      }
    }
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  } else {
    const pushed = await s.server.ask<{ type: 'pushed'; startAt: number }>(
      { type: 'push', n: PUSHES, from },
      'pushed',
    )
    startAt = pushed.startAt
  }
  const d = await done
  const ms = d.lastAt - startAt
  const cpu1 = await cpuOf(s)
  return {
    ms,
    perSec: (d.count / ms) * 1000,
    /** Server CPU per delivery, µs. */
    serverUs: ((cpu1.server - cpu0.server) * 1000) / d.count,
    /** Client-process CPU use over the run, cores. */
    clientCores: (cpu1.clients - cpu0.clients) / ms,
  }
}

export const fanout = async () => {
  const slew = await start('slew')
  const hono = await start('hono')
  try {
    const frame = await sampleFrame(slew.port, 0)
    const data = frame.slice(frame.indexOf('data: ') + 6, -2)
    await hono.server.ask({ type: 'payload', data }, 'payload')
    await sleep(500)
    const rows: string[][] = []
    const notes: string[] = []
    const ratios: Record<string, number> = {}
    for (const mode of ['http', 'in-process'] as const) {
      const results: Record<System, number[]> = { slew: [], hono: [] }
      const times: Record<System, number[]> = { slew: [], hono: [] }
      const serverUs: Record<System, number[]> = { slew: [], hono: [] }
      const clientCores: Record<System, number[]> = { slew: [], hono: [] }
      for (let rep = -1; rep < REPS; rep++) {
        // Alternate which goes first; rep -1 is the warm-up, not kept.
        const order = rep % 2 === 0 ? [hono, slew] : [slew, hono]
        for (const s of order) {
          const r = await run(s, mode)
          if (rep >= 0) {
            results[s.system].push(r.perSec)
            times[s.system].push(r.ms)
            serverUs[s.system].push(r.serverUs)
            clientCores[s.system].push(r.clientCores)
          }
        }
      }
      const h = median(results.hono)
      const sl = median(results.slew)
      ratios[mode] = sl / h
      const fmt = (xs: number[]) => xs.map((x) => Math.round(x / 1000)).join(', ')
      rows.push(
        [
          mode,
          'bare hono streamSSE (baseline)',
          `${Math.round(h).toLocaleString('en-US')}`,
          `${Math.round(median(times.hono))} ms`,
          median(serverUs.hono).toFixed(1),
          median(clientCores.hono).toFixed(2),
          fmt(results.hono),
          '1.00',
        ],
        [
          mode,
          'slew coordinator',
          `${Math.round(sl).toLocaleString('en-US')}`,
          `${Math.round(median(times.slew))} ms`,
          median(serverUs.slew).toFixed(1),
          median(clientCores.slew).toFixed(2),
          fmt(results.slew),
          (sl / h).toFixed(2),
        ],
      )
    }
    notes.push(
      `${CLIENTS.toLocaleString('en-US')} clients × ${PUSHES} pushes = ${(CLIENTS * PUSHES).toLocaleString('en-US')} deliveries per run; median of ${REPS} runs after a warm-up, runs alternating between the two systems`,
      `frame: ${frame.length} bytes (\`id\`, \`event: change\`, one signed \`data:\` line; the baseline broadcasts the same data line)`,
      `streams opened in ${slew.connectMs} ms (slew), ${hono.connectMs} ms (hono)`,
      `target: ratio ≥ 0.5 — http ${ratios.http!.toFixed(2)}: ${ratios.http! >= 0.5 ? 'met' : 'NOT met'}; in-process ${ratios['in-process']!.toFixed(2)}: ${ratios['in-process']! >= 0.5 ? 'met' : 'NOT met'}`,
    )
    return {
      name: `stream fan-out to ${CLIENTS.toLocaleString('en-US')} SSE clients: deliveries/s`,
      header: [
        'push',
        'server',
        'deliveries/s (median)',
        'first push → last frame',
        'server CPU µs / delivery',
        'client process CPU (cores)',
        'runs (k/s)',
        '÷ baseline',
      ],
      rows,
      notes,
    }
  } finally {
    await Promise.all([slew.clients.kill(), hono.clients.kill()])
    await Promise.all([slew.server.kill(), hono.server.kill()])
  }
}
