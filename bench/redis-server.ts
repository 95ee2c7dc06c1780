/**
 * A private redis-server for the benchmarks: a free loopback port, its own
 * temp folder, no persistence (`--save '' --appendonly no`), killed by the
 * bench that started it. Never the machine's shared 6379, and nothing here
 * ever flushes a server it did not start (it flushes nothing at all: every
 * run uses keys of its own).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sleep } from './proc.js'

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })

export interface PrivateRedis {
  readonly port: number
  readonly url: string
  readonly proc: ChildProcess
  /** SIGKILL, wait for the exit, remove the temp folder. */
  stop(): Promise<void>
}

export const startPrivateRedis = async (): Promise<PrivateRedis> => {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'slew-bench-redis-'))
  const proc = spawn(
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
    ],
    { stdio: 'ignore' },
  )
  const until = Date.now() + 10_000
  for (;;) {
    try {
      const out = execFileSync('redis-cli', ['-p', String(port), 'ping'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      })
      if (out.trim() === 'PONG') break
    } catch {}
    if (Date.now() > until || proc.exitCode !== null) {
      proc.kill('SIGKILL')
      throw new Error(`private redis-server on ${port} did not answer PING`)
    }
    await sleep(50)
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()))
        proc.kill('SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const TICK_MS = 1000 / 100 // USER_HZ: 100 on Linux

/** CPU time (user + system) a process has used so far, ms, from /proc (10 ms resolution). */
export const procCpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * TICK_MS
}
