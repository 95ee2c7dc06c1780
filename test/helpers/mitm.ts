/**
 * A man in the middle: a real HTTP proxy between SDK clients and the
 * coordinator that passes everything through, records the stream frames it
 * carries, and can inject frames of its own into a client's stream.
 */
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export const startMitm = async (
  target: string,
  opts: {
    delayMs?: (method: string, path: string) => number
    /** Answer this request here with this status (a problem+json), not passing it on. */
    refuse?: (method: string, path: string) => number | undefined
  } = {},
) => {
  const up = new URL(target)
  const streams = new Map<string, ServerResponse>()
  const frames: string[] = []
  /** Each request passed on: its path, body and when it was forwarded and answered (ms). */
  const requests: { method: string; path: string; body: string; start: number; end?: number }[] = []
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const clientId = new URL(req.url ?? '/', 'http://x').searchParams.get('clientId')
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const seen = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      body: Buffer.concat(chunks).toString(),
      start: Date.now(),
    } as (typeof requests)[number]
    requests.push(seen)
    const delay = opts.delayMs?.(seen.method, seen.path) ?? 0
    if (delay > 0) await new Promise((r) => setTimeout(r, delay))
    const status = opts.refuse?.(seen.method, seen.path)
    if (status !== undefined) {
      res.writeHead(status, { 'content-type': 'application/problem+json' })
      res.end(JSON.stringify({ status, code: 'E_MITM', title: 'refused by the test' }))
      seen.end = Date.now()
      return
    }
    res.on('finish', () => {
      seen.end = Date.now()
    })
    const out = request(
      { host: up.hostname, port: up.port, path: req.url, method: req.method, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers)
        res.flushHeaders() // a stream with nothing to say yet is open all the same
        if (clientId && req.url?.startsWith('/v1/stream') && upRes.statusCode === 200) {
          streams.set(clientId, res)
          upRes.on('data', (chunk: Buffer) => frames.push(chunk.toString()))
        }
        upRes.pipe(res)
      },
    )
    out.on('error', () => res.destroy())
    out.end(Buffer.concat(chunks))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    frames,
    requests,
    /** Write a raw SSE frame into `clientId`'s stream. */
    inject(clientId: string, frame: string): void {
      const res = streams.get(clientId)
      if (!res) throw new Error(`no stream for ${clientId}`)
      res.write(frame)
    },
    /** End `clientId`'s stream here (the coordinator's side stays open). */
    cut(clientId: string): void {
      streams.get(clientId)?.destroy()
    },
    /**
     * Write `piece` into `clientId`'s stream again and again, as fast as the
     * client reads (backpressure), until `bytes` are written or the client
     * hangs up; resolves with the bytes written. What the client took in is
     * at most that, less what was still in the socket buffers.
     */
    pour(clientId: string, piece: string, bytes = Number.POSITIVE_INFINITY): Promise<number> {
      const res = streams.get(clientId)
      if (!res) throw new Error(`no stream for ${clientId}`)
      const chunk = Buffer.from(piece)
      return new Promise((resolve) => {
        let written = 0
        let closed = false
        res.once('close', () => {
          closed = true
          resolve(written)
        })
        const more = () => {
          while (!closed && written < bytes) {
            written += chunk.length
            if (!res.write(chunk)) return void res.once('drain', more)
          }
          if (!closed) resolve(written)
        }
        more()
      })
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
