/**
 * Config values as state, not history (issue 12, item 4): what a run of
 * large config pushes costs the coordinator, and what a new client then
 * costs it.
 *
 * A coordinator (config-memory-server.ts, memory store) with one client
 * connected takes PUSHES config changes of a ~900 KB value each, every one
 * waited for until completed; `same key` pushes one key again and again,
 * `new keys` a new key each time. Reported: RSS after a full GC, per push
 * (the delta ÷ pushes, and over the second half alone); pushes refused (E_CONFIG_TOO_LARGE) and accepted;
 * then for each of NEW_CLIENTS new clients in turn, the size of its first
 * `config` frame and the time from the request to that frame, and the worst
 * `GET /healthz` answer time while they connect (is the API blocked?);
 * the signatures made for them (`slew_events_signed_total`: a hello each,
 * and the config frame each, or once).
 *
 * Run: npm run build && node --expose-gc --import tsx bench/config-memory.ts [same|new] [pushes]
 */
import { epochMs, median, sleep, spawnChild } from './proc.js'

const VALUE_BYTES = 900 * 1024
const NEW_CLIENTS = Number(process.env.SLEW_BENCH_NEW_CLIENTS ?? 5)

type Mem = { rss: number; heapUsed: number; external: number }

/** One raw SSE stream: bytes until the first `config` event (its data's size), then kept open. */
const connect = async (url: string, clientId: string) => {
  const abort = new AbortController()
  const t0 = epochMs()
  const res = await fetch(`${url}/v1/stream?clientId=${clientId}&entries=1`, {
    signal: abort.signal,
  })
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  const MARK = 'event: config\ndata: '
  // Scanned chunk by chunk (a 100 MB frame must not be searched from its start each time).
  let tail = ''
  let inData = false
  let bytes = 0
  let frame: { bytes: number; ms: number } | undefined
  const first = (async () => {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      if (frame) continue
      let chunk = tail + decoder.decode(value, { stream: true })
      if (!inData) {
        const at = chunk.indexOf(MARK)
        if (at < 0) {
          tail = chunk.slice(-MARK.length)
          continue
        }
        inData = true
        chunk = chunk.slice(at + MARK.length)
        tail = ''
      }
      const end = chunk.indexOf('\n')
      if (end < 0) {
        bytes += Buffer.byteLength(chunk)
        continue
      }
      bytes += Buffer.byteLength(chunk.slice(0, end))
      frame = { bytes, ms: epochMs() - t0 }
    }
  })().catch(() => {})
  return {
    firstConfig: async () => {
      while (!frame) await sleep(5)
      return frame
    },
    close: async () => {
      abort.abort()
      await first
    },
  }
}

const signed = async (url: string) => {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(/^slew_events_signed_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN)
}

export const configMemory = async (mode: 'same' | 'new' = 'same', pushes = 200) => {
  const server = spawnChild('config-memory-server.ts')
  const streams: { close(): Promise<void> }[] = []
  try {
    const { port } = await server.next<{ type: 'ready'; port: number }>('ready', 30_000)
    const url = `http://127.0.0.1:${port}`
    streams.push(await connect(url, 'app-0'))
    const value = 'x'.repeat(VALUE_BYTES)
    // Warm up: routes, JIT, the first push's allocations.
    const push = async (key: string, i: number) =>
      fetch(`${url}/v1/changes`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'config', values: { [key]: `${i}${value}` } }),
      })
    const done = async (id: string) => {
      for (;;) {
        const r = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as { state: string }
        if (r.state === 'completed') return
        await sleep(2)
      }
    }
    for (let i = 0; i < 3; i++) {
      const r = await push('warm', i)
      await done(((await r.json()) as { id: string }).id)
    }
    const before = await server.ask<Mem & { type: 'mem' }>({ type: 'mem' }, 'mem')
    let accepted = 0
    let refused = 0
    let half: Mem | undefined
    for (let i = 0; i < pushes; i++) {
      if (i === pushes / 2) half = await server.ask<Mem & { type: 'mem' }>({ type: 'mem' }, 'mem')
      const r = await push(mode === 'same' ? 'big' : `big-${i}`, i)
      if (r.status === 202) {
        accepted++
        await done(((await r.json()) as { id: string }).id)
      } else {
        const p = (await r.json()) as { code: string }
        if (p.code !== 'E_CONFIG_TOO_LARGE') throw new Error(`push ${i}: ${r.status} ${p.code}`)
        refused++
      }
    }
    const after = await server.ask<Mem & { type: 'mem' }>({ type: 'mem' }, 'mem')
    const sigBefore = await signed(url)
    const frames: { bytes: number; ms: number }[] = []
    let worstHealthMs = 0
    for (let c = 0; c < NEW_CLIENTS; c++) {
      let connecting = true
      const probe = (async () => {
        while (connecting) {
          const t = epochMs()
          await fetch(`${url}/healthz`)
          worstHealthMs = Math.max(worstHealthMs, epochMs() - t)
          await sleep(5)
        }
      })()
      const s = await connect(url, `new-${c}`)
      streams.push(s)
      frames.push(await s.firstConfig())
      connecting = false
      await probe
    }
    const sigs = (await signed(url)) - sigBefore
    const mb = (n: number) => n / 2 ** 20
    return {
      mode,
      pushes,
      accepted,
      refused,
      rssPerPushMb: mb(after.rss - before.rss) / pushes,
      heapPerPushMb: mb(after.heapUsed - before.heapUsed) / pushes,
      /** The second half only: what one more push costs once the log is full (64 MiB). */
      rssPerPushLaterMb: half ? mb(after.rss - half.rss) / (pushes / 2) : Number.NaN,
      heapPerPushLaterMb: half ? mb(after.heapUsed - half.heapUsed) / (pushes / 2) : Number.NaN,
      rssAfterMb: mb(after.rss),
      firstFrameMb: mb(frames[0]!.bytes),
      firstFrameMs: frames[0]!.ms,
      laterFrameMs: median(frames.slice(1).map((f) => f.ms)),
      worstHealthMs,
      signedPerNewClient: sigs / NEW_CLIENTS,
    }
  } finally {
    for (const s of streams) await s.close()
    await server.kill()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const mode = (process.argv[2] ?? 'same') as 'same' | 'new'
  const pushes = Number(process.argv[3] ?? 200)
  console.log(JSON.stringify(await configMemory(mode, pushes), null, 2))
}

/** For `npm run bench -- config-memory`: both modes, 400 pushes each, as a table. */
export const configMemoryTable = async () => {
  const runs = [await configMemory('same', 400), await configMemory('new', 400)]
  const f = (n: number, d = 2) => n.toFixed(d)
  return {
    name: 'Config values as state (issue 12, item 4): 400 pushes of a 900 KB value',
    header: [
      'keys',
      'accepted / refused',
      'RSS per push (all / last 200), MB',
      'RSS after, MB',
      'first frame, MB',
      'first / later frame, ms',
      'worst /healthz, ms',
      'signatures per new client',
    ],
    rows: runs.map((r) => [
      r.mode === 'same' ? 'one key, again and again' : 'a new key each push',
      `${r.accepted} / ${r.refused}`,
      `${f(r.rssPerPushMb)} / ${f(r.rssPerPushLaterMb)}`,
      f(r.rssAfterMb, 0),
      f(r.firstFrameMb),
      `${f(r.firstFrameMs, 0)} / ${f(r.laterFrameMs, 0)}`,
      f(r.worstHealthMs, 0),
      f(r.signedPerNewClient, 1),
    ]),
    notes: [
      `${NEW_CLIENTS} new clients connect one after another once the pushes are done; a hello is one signature each.`,
    ],
  }
}
