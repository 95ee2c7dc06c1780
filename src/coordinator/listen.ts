/**
 * Binding the coordinator's HTTP server: the bind rule (no non-loopback
 * host without auth), connection caps within the descriptors this process
 * may open, and an address in use as a coded error.
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createAdaptorServer, type ServerType } from '@hono/node-server'
import { bindIssues } from '../config/check.js'
import type { Config } from '../config/schema.js'
import { AddressInUseError, invalidOptions } from '../errors.js'
import { Connections, DESCRIPTOR_RESERVE, descriptorLimit, serverOptionsOf } from './connections.js'
import type { App } from './context.js'
import type { Metrics } from './metrics.js'

export interface Listening {
  readonly url: string
  readonly host: string
  readonly port: number
}

export interface BindOptions {
  readonly app: App
  readonly host: string
  readonly port: number
  readonly limits: Config['limits']
  readonly metrics: Metrics
  readonly notice: (line: string) => void
  /** Auth tokens and signing keys configured (the bind rule). */
  readonly tokens: boolean
  readonly signing: boolean
  /** The connection caps, once made (streams are exempt from them). */
  readonly connections: (conns: Connections) => void
  /** The server, once made (closed by the caller). */
  readonly server: (server: ServerType | undefined) => void
}

/** The least listen backlog: Node's default (the kernel caps any at net.core.somaxconn). */
const LISTEN_BACKLOG = 511

export const bind = async (o: BindOptions): Promise<Listening> => {
  const { host, port, limits, notice } = o
  // The rule `slew config check` and `slew serve` apply (config/check.ts), here for a library user.
  const refused = bindIssues(host, { tokens: o.tokens, signing: o.signing })
  if (refused.length > 0) throw invalidOptions(refused)
  // Connection caps within the descriptors this process may open, or they would not hold.
  const fds = descriptorLimit()
  const total =
    fds === undefined
      ? limits.connections
      : Math.min(limits.connections, Math.max(1, fds - DESCRIPTOR_RESERVE))
  if (fds !== undefined && fds < limits.connections)
    notice(
      `slew: at most ${total} connections, not limits.connections (${limits.connections}): the descriptor limit is ${fds} (raise it: ulimit -n, or LimitNOFILE under systemd)`,
    )
  const conns = new Connections(limits, {
    total,
    shed: (cap) => o.metrics.connectionsShed.inc({ cap }),
    changed: (open) => o.metrics.connections.set(open),
  })
  o.connections(conns)
  const s = createAdaptorServer({ fetch: o.app.fetch, serverOptions: serverOptionsOf(limits) })
  conns.attach(s as Server)
  o.server(s)
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('listening', resolve)
      s.once('error', reject)
      // A fleet that lost its coordinator comes back within a second or two (the SDK's backoff
      // starts at 1 s): the kernel holds that many connections until they are accepted and
      // refused or admitted (B3), up to net.core.somaxconn. With Node's default, 511, most of
      // 19,500 overflowed the queue and reached admission only as TCP retransmitted them,
      // over minutes (728 of them in the first 30 s).
      s.listen({ port, host, backlog: Math.max(LISTEN_BACKLOG, total) })
    })
  } catch (error) {
    o.server(undefined)
    // Taken by another process: a coded error that says what to do, not a stack.
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE')
      throw new AddressInUseError(host, port, { cause: error })
    throw error
  }
  if (!o.tokens)
    notice('slew: no auth tokens configured: listening on loopback only, no token needed')
  if (!o.signing)
    notice('slew: no signing keys configured: signing with the public dev key (kid "dev")')
  const bound = (s.address() as AddressInfo).port
  const shown = host.includes(':') ? `[${host}]` : host
  return { url: `http://${shown}:${bound}`, host, port: bound }
}

/** Close the server, cutting the connections still open (streams included). */
export const closeServer = async (s: ServerType): Promise<void> => {
  const done = new Promise<void>((resolve) => s.close(() => resolve()))
  if ('closeAllConnections' in s) s.closeAllConnections()
  await done
}
