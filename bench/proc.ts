/**
 * Helpers shared by the benchmarks that spawn child processes: fork a bench
 * child (with tsx and --expose-gc) and talk to it over IPC; a clock that is
 * comparable across processes; medians.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/** Wall-clock milliseconds with sub-ms resolution, comparable between processes on one machine. */
export const epochMs = (): number => performance.timeOrigin + performance.now()

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export type Message = { type: string } & Record<string, unknown>

export interface Child {
  readonly proc: ChildProcess
  send(msg: Message): void
  /** The next message of `type` (messages of other types that arrive meanwhile are kept). */
  next<T extends Message = Message>(type: string, timeoutMs?: number): Promise<T>
  /** Send `msg` and wait for the reply of type `reply`. */
  ask<T extends Message = Message>(msg: Message, reply: string, timeoutMs?: number): Promise<T>
  kill(): Promise<void>
}

/** This process's descriptor limits (`ulimit -Sn`, `ulimit -Hn`), where Linux says; else undefined. */
export const descriptorLimits = (): { soft: number; hard: number } | undefined => {
  try {
    const m = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(
      readFileSync('/proc/self/limits', 'utf8'),
    )
    const n = (s: string) => (s === 'unlimited' ? Number.POSITIVE_INFINITY : Number(s))
    return m ? { soft: n(m[1]!), hard: n(m[2]!) } : undefined
  } catch {
    return undefined
  }
}

export interface SpawnOptions {
  /**
   * Raise the child's descriptor limit to this (`ulimit -n` in a shell that
   * then execs node), or as far as the hard limit allows if that is lower.
   */
  readonly nofile?: number
}

/** Fork `bench/<file>` with `args`; the child talks back with process.send. */
export const spawnChild = (
  file: string,
  args: string[] = [],
  execArgv: string[] = [],
  opts: SpawnOptions = {},
): Child => {
  const node = ['--expose-gc', '--import', 'tsx', ...execArgv]
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc']
  const path = join(import.meta.dirname, file)
  // `sh -c 'ulimit -n N; exec node …'`: the same process (exec), so IPC and kill() still reach it.
  const proc =
    opts.nofile === undefined
      ? fork(path, args, { execArgv: node, stdio })
      : spawn(
          '/bin/sh',
          [
            '-c',
            `ulimit -n ${Math.floor(opts.nofile)} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`,
            process.execPath,
            ...node,
            path,
            ...args,
          ],
          { stdio },
        )
  const inbox: Message[] = []
  const waiters: { type: string; resolve: (m: Message) => void }[] = []
  let exited: string | undefined
  const failures: ((e: Error) => void)[] = []
  proc.on('message', (m: Message) => {
    // A child's handler failed (it exits next): say why, or the bench only says it exited.
    if (m.type === 'error' && !waiters.some((w) => w.type === 'error'))
      process.stderr.write(`${file}: ${String(m.message)}\n`)
    const i = waiters.findIndex((w) => w.type === m.type)
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(m)
    else inbox.push(m)
  })
  // A message to a child that has gone (its channel closed) fails what waits on it, not the bench.
  proc.on('error', (e) => {
    for (const f of failures.splice(0)) f(e)
  })
  proc.on('exit', (code, signal) => {
    exited = `${file} exited (code ${code}, signal ${signal})`
    for (const f of failures.splice(0)) f(new Error(exited))
  })
  const next = <T extends Message>(type: string, timeoutMs = 120_000): Promise<T> => {
    const i = inbox.findIndex((m) => m.type === type)
    if (i >= 0) return Promise.resolve(inbox.splice(i, 1)[0] as T)
    if (exited) return Promise.reject(new Error(exited))
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${file}: no "${type}" within ${timeoutMs} ms`)),
        timeoutMs,
      )
      const fail = (e: Error) => {
        clearTimeout(timer)
        reject(e)
      }
      failures.push(fail)
      waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer)
          failures.splice(failures.indexOf(fail), 1)
          resolve(m as T)
        },
      })
    })
  }
  return {
    proc,
    send: (msg) => proc.send(msg),
    next,
    ask: (msg, reply, timeoutMs) => {
      const p = next(reply, timeoutMs)
      proc.send(msg)
      return p as never
    },
    kill: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve()
        proc.once('exit', () => resolve())
        proc.kill('SIGKILL')
      }),
  }
}

/** In a child: handle IPC messages; a handler's return value (if any) is sent back. `{ type: 'cpu' }` is answered here: the process's CPU time so far, ms. */
export const serve = (
  handle: (m: Message) => Promise<Message | undefined> | Message | undefined,
) => {
  process.on('message', (m: Message) => {
    if (m.type === 'cpu') {
      const { user, system } = process.cpuUsage()
      process.send!({ type: 'cpu', ms: (user + system) / 1000 })
      return
    }
    Promise.resolve(handle(m)).then(
      (reply) => reply && process.send!(reply),
      (error: unknown) => {
        process.send!({ type: 'error', message: String((error as Error)?.stack ?? error) })
        process.exit(1)
      },
    )
  })
  // The parent went away: do not linger.
  process.on('disconnect', () => process.exit(0))
}

/** RSS and heap after a full GC (needs --expose-gc). */
export const settledMemory = async () => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (!gc) throw new Error('run with --expose-gc')
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(100)
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external }
}
