/**
 * Memory per stream: RSS of a slew coordinator holding 10,000 SSE streams,
 * as a ratio to a bare node:http server holding 10,000 SSE responses,
 * measured the same way in the same run.
 *
 * Per run: the server in a fresh child (stream-memory-server.ts); a warm-up
 * of 100 streams opened and closed (first-request costs: route tables, JIT);
 * RSS after a full GC; 10,000 raw-socket clients in another child
 * (sse-clients.ts); once all are in, RSS after a full GC again. The delta ÷
 * 10,000 is the cost of one stream. Runs alternate between the two servers.
 * One more run of hono's `streamSSE` is shown as a reference point
 * (SLEW_BENCH_MEM_HONO=0 skips it); it is not the target's baseline.
 */
import { median, sleep, spawnChild } from './proc.js'

const STREAMS = Number(process.env.SLEW_BENCH_STREAMS ?? 10_000)
const REPS = Number(process.env.SLEW_BENCH_MEM_REPS ?? 3)
const WARM = 100
const HONO = process.env.SLEW_BENCH_MEM_HONO !== '0'

type Kind = 'slew' | 'bare' | 'hono'
type Mem = { rss: number; heapUsed: number; heapTotal: number; external: number }

const measure = async (kind: Kind) => {
  const server = spawnChild('stream-memory-server.ts', [kind])
  try {
    const { port } = await server.next<{ type: 'ready'; port: number }>('ready', 30_000)
    const path = kind === 'slew' ? '/v1/stream?entries=100' : '/'
    // (hono's streamSSE sends its headers with the response, before any frame.)
    const streamsOpen = async () =>
      (await server.ask<{ type: 'streams'; n: number }>({ type: 'streams' }, 'streams')).n
    const warm = spawnChild('sse-clients.ts', [String(port), path, String(WARM), 'warm'])
    const w = await warm.next<{ type: 'connected'; ok: number }>('connected', 60_000)
    if (w.ok !== WARM) throw new Error(`${kind}: warm-up opened ${w.ok} of ${WARM}`)
    await warm.kill()
    for (let i = 0; i < 100 && (await streamsOpen()) > 0; i++) await sleep(50)
    const before = await server.ask<Mem & { type: 'mem' }>({ type: 'mem' }, 'mem')
    const clients = spawnChild('sse-clients.ts', [String(port), path, String(STREAMS), 'c'])
    try {
      const c = await clients.next<{ type: 'connected'; ok: number; ms: number }>(
        'connected',
        120_000,
      )
      if (c.ok !== STREAMS) throw new Error(`${kind}: opened ${c.ok} of ${STREAMS}`)
      for (let i = 0; i < 100 && (await streamsOpen()) < STREAMS; i++) await sleep(50)
      const open = await streamsOpen()
      if (open !== STREAMS) throw new Error(`${kind}: server holds ${open} of ${STREAMS}`)
      await sleep(500)
      const after = await server.ask<Mem & { type: 'mem' }>({ type: 'mem' }, 'mem')
      const per = (k: keyof Mem) => (after[k] - before[k]) / STREAMS / 1024
      return {
        rssKb: per('rss'),
        heapKb: per('heapUsed'),
        externalKb: per('external'),
        rssBeforeMb: before.rss / 2 ** 20,
        rssAfterMb: after.rss / 2 ** 20,
        connectMs: c.ms,
      }
    } finally {
      // The server goes first, so the closing handshakes start on its side.
      await server.kill()
      await clients.kill()
    }
  } finally {
    await server.kill()
  }
}

export const streamMemory = async () => {
  const results: Record<Kind, Awaited<ReturnType<typeof measure>>[]> = {
    slew: [],
    bare: [],
    hono: [],
  }
  for (let rep = 0; rep < REPS; rep++) {
    const order: Kind[] = rep % 2 === 0 ? ['bare', 'slew'] : ['slew', 'bare']
    for (const kind of order) results[kind].push(await measure(kind))
  }
  // A reference point only (not the target's baseline): one run of hono's streamSSE.
  if (HONO) results.hono.push(await measure('hono'))
  const med = (kind: Kind, k: 'rssKb' | 'heapKb' | 'externalKb' | 'rssBeforeMb' | 'rssAfterMb') =>
    median(results[kind].map((r) => r[k]))
  const bare = med('bare', 'rssKb')
  const slew = med('slew', 'rssKb')
  const row = (what: string, kind: Kind) => [
    what,
    `${med(kind, 'rssBeforeMb').toFixed(0)} → ${med(kind, 'rssAfterMb').toFixed(0)} MB`,
    med(kind, 'rssKb').toFixed(1),
    results[kind].map((r) => r.rssKb.toFixed(1)).join(', '),
    med(kind, 'heapKb').toFixed(1),
    med(kind, 'externalKb').toFixed(1),
    (med(kind, 'rssKb') / bare).toFixed(2),
  ]
  return {
    name: `memory per stream: ${STREAMS.toLocaleString('en-US')} connected SSE streams`,
    header: [
      'server',
      'RSS before → after (median)',
      'RSS KB / stream (median)',
      'runs',
      'heap used KB / stream',
      'external KB / stream',
      '÷ baseline',
    ],
    rows: [
      row('bare node:http, writeHead + flushHeaders (baseline)', 'bare'),
      row('slew coordinator', 'slew'),
      ...(HONO ? [row('reference: hono `streamSSE` (1 run)', 'hono')] : []),
    ],
    notes: [
      `median of ${REPS} runs each, alternating, each in a fresh server process; RSS and heap after a full GC (\`--expose-gc\`), before the streams and once all ${STREAMS.toLocaleString('en-US')} are held`,
      `target: ratio ≤ 1.5 — ${(slew / bare).toFixed(2)}: ${slew / bare <= 1.5 ? 'met' : 'NOT met'}`,
    ],
  }
}
