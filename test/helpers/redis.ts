/**
 * Private Redis servers for tests: each on a free loopback port, in its own
 * temp folder, started and killed by the test (never the machine's shared
 * 6379, never a FLUSHALL on a server the tests did not start).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Redis } from 'ioredis'

/** A port free right now on `host` (bound, then released). */
export const freePort = (host = '127.0.0.1'): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, host, () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

/** Every key on a Redis server (SCAN, not KEYS), sorted. */
export const scanAll = async (client: Pick<Redis, 'scan'>): Promise<string[]> => {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await client.scan(cursor, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys.sort()
}

export interface RedisServer {
  readonly port: number
  readonly url: string
  readonly process: ChildProcess
  /** SIGKILL and wait. */
  kill(): Promise<void>
  /** Start again on the same port (state is gone: no persistence). */
  restart(): Promise<void>
  stop(): Promise<void>
}

/** Until the server answers PING; a server that exited, or stays silent, is an error (and killed). */
const waitForPing = async (
  proc: ChildProcess,
  port: number,
  password?: string,
  timeoutMs = 10_000,
) => {
  const until = Date.now() + timeoutMs
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`redis-server on ${port} exited (${proc.exitCode ?? proc.signalCode})`)
    try {
      const auth = password === undefined ? [] : ['-a', password, '--no-auth-warning']
      const out = execFileSync('redis-cli', ['-p', String(port), ...auth, 'ping'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      if (out.trim() === 'PONG') return
    } catch {}
    if (Date.now() > until) {
      proc.kill('SIGKILL')
      throw new Error(`redis on ${port} did not answer PING`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}

const launch = (port: number, dir: string, extra: string[]) =>
  spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      ...extra,
    ],
    {
      stdio: 'ignore',
    },
  )

/**
 * `at.port`: on this port (e.g. one a coordinator already tries to reach);
 * default a free one. `at.password`: the server requires it (and `url` carries it).
 */
export const startRedis = async (
  extra: string[] = [],
  at: { port?: number; password?: string } = {},
): Promise<RedisServer> => {
  const port = at.port ?? (await freePort())
  const dir = mkdtempSync(join(tmpdir(), 'slew-redis-'))
  const { password } = at
  if (password !== undefined) extra = [...extra, '--requirepass', password]
  let proc = launch(port, dir, extra)
  await waitForPing(proc, port, password)
  const exited = (p: ChildProcess) =>
    new Promise<void>((r) => {
      if (p.exitCode !== null || p.signalCode !== null) r()
      else p.once('exit', () => r())
    })
  const server: RedisServer = {
    port,
    url: `redis://${password === undefined ? '' : `:${password}@`}127.0.0.1:${port}`,
    get process() {
      return proc
    },
    async kill() {
      proc.kill('SIGKILL')
      await exited(proc)
    },
    async restart() {
      proc = launch(port, dir, extra)
      await waitForPing(proc, port, password)
    },
    async stop() {
      proc.kill('SIGKILL')
      await exited(proc)
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/** A 3-master Redis Cluster on free ports, made with `redis-cli --cluster create`. */
export const startCluster = async (masters = 3) => {
  const nodes: RedisServer[] = []
  for (let i = 0; i < masters; i++) {
    nodes.push(
      await startRedis([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${i}.conf`,
        '--cluster-node-timeout',
        '2000',
      ]),
    )
  }
  execFileSync(
    'redis-cli',
    [
      '--cluster',
      'create',
      ...nodes.map((n) => `127.0.0.1:${n.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ],
    {
      stdio: 'ignore',
    },
  )
  // Wait until every node agrees the cluster is ok.
  const until = Date.now() + 20_000
  for (const n of nodes) {
    for (;;) {
      const info = execFileSync('redis-cli', ['-p', String(n.port), 'cluster', 'info'], {
        encoding: 'utf8',
      })
      if (info.includes('cluster_state:ok')) break
      if (Date.now() > until) throw new Error('cluster did not come up')
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return {
    nodes,
    startup: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    stop: async () => {
      for (const n of nodes) await n.stop()
    },
  }
}
