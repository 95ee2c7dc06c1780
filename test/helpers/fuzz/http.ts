/**
 * One raw HTTP/1.1 request over node:http, for the fuzz: any method (a body
 * on a GET or HEAD too, which fetch refuses to send), any header a client
 * may put on the wire, the body framed by Content-Length or chunked. An
 * event stream is cut as soon as its headers arrive; nothing waits longer
 * than `timeoutMs`.
 */
import { type IncomingHttpHeaders, request } from 'node:http'
import { toStringMethod } from 'fast-check'

export interface RawRequest {
  /** How fast-check prints it (a counterexample's body may be large). */
  readonly [toStringMethod]?: () => string
  readonly method: string
  /** Path and query, as sent (already encoded). */
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: Buffer | undefined
  /** How the body is framed: its length, or chunked. */
  readonly framing: 'length' | 'chunked'
}

export interface RawResponse {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  readonly body: string
  /** An event stream was opened (and cut by us after its headers). */
  readonly stream: boolean
}

export const send = (port: number, req: RawRequest, timeoutMs = 15_000): Promise<RawResponse> =>
  new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...req.headers, connection: 'close' }
    if (req.body !== undefined) {
      if (req.framing === 'length') headers['content-length'] = String(req.body.length)
      else headers['transfer-encoding'] = 'chunked'
    }
    const r = request(
      { host: '127.0.0.1', port, method: req.method, path: req.path, headers, agent: false },
      (res) => {
        const type = String(res.headers['content-type'] ?? '')
        if (type.startsWith('text/event-stream')) {
          res.destroy()
          resolve({ status: res.statusCode!, headers: res.headers, body: '', stream: true })
          return
        }
        const chunks: Buffer[] = []
        res.on('data', (b: Buffer) => chunks.push(b))
        res.on('error', reject)
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            stream: false,
          }),
        )
      },
    )
    r.on('error', reject)
    r.setTimeout(timeoutMs, () =>
      r.destroy(new Error(`no answer to ${req.method} ${req.path} in ${timeoutMs} ms`)),
    )
    // A server may answer (and close) before it reads the whole body: what it wrote still counts.
    if (req.body !== undefined) r.end(req.body)
    else r.end()
  })

/** A request as a line for a failure message (long parts cut). */
export const describeRequest = (req: RawRequest): string => {
  const cut = (s: string, n = 300) => (s.length > n ? `${s.slice(0, n)}…(${s.length})` : s)
  const body =
    req.body === undefined ? '' : ` body[${req.framing}]=${cut(req.body.toString('utf8'))}`
  return `${req.method} ${cut(req.path)} ${cut(JSON.stringify(req.headers))}${body}`
}

/** `req`, printed by describeRequest() in fast-check's reports. */
export const printable = (req: RawRequest): RawRequest => ({
  ...req,
  [toStringMethod]: () => describeRequest(req),
})
