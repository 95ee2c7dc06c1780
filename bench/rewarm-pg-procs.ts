/**
 * The rewarm-pg bench's other processes: a real coordinator, started as a
 * user starts one (`node dist/cli/main.js serve --config FILE --port 0`, the
 * memory store, no auth on loopback), and the CPU each part of the machine
 * used (/proc, 10 ms ticks): the coordinator, the fleet processes, every
 * `postgres` process, and the whole machine (others' work included).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { procCpuMs } from './redis-server.js'

export interface CoordinatorProcess {
  readonly url: string
  readonly pid: number
  /** SIGTERM (graceful), SIGKILL after 10 s; its temp folder removed. */
  stop(): Promise<void>
}

export const startCoordinatorProcess = async (
  config: Record<string, unknown>,
): Promise<CoordinatorProcess> => {
  const dir = mkdtempSync(join(tmpdir(), 'slew-rewarm-pg-'))
  const file = join(dir, 'slew.config.json')
  writeFileSync(file, JSON.stringify(config, null, 2))
  const main = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')
  const proc: ChildProcess = spawn(
    process.execPath,
    [main, 'serve', '--config', file, '--port', '0'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coordinator did not start:\n${out}`)), 30_000)
    const seen = (b: Buffer) => {
      out += b.toString()
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[1]!)
      }
    }
    proc.stdout!.on('data', seen)
    proc.stderr!.on('data', seen)
    proc.once('exit', (code) => reject(new Error(`coordinator exited (${code}):\n${out}`)))
  })
  return {
    url,
    pid: proc.pid!,
    stop: async () => {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
        await exited
        clearTimeout(timer)
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** CPU ms of every process whose command is `postgres`, by pid (a backend that exits takes its share with it). */
const postgresCpu = (): Map<number, number> => {
  const out = new Map<number, number>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      if (readFileSync(`/proc/${name}/comm`, 'utf8').trim() !== 'postgres') continue
      out.set(Number(name), procCpuMs(Number(name)))
    } catch {
      // gone meanwhile
    }
  }
  return out
}

/** Busy CPU ms of the whole machine so far (every core: user, nice, system, irq, softirq, steal). */
const machineCpuMs = (): number => {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1)
  const [user, nice, system, , , irq, softirq, steal] = f.map(Number)
  return (user! + nice! + system! + irq! + softirq! + steal!) * 10
}

export interface CpuMark {
  readonly at: number
  readonly coordinator: number
  readonly fleet: number
  readonly postgres: Map<number, number>
  readonly machine: number
}

export const cpuMark = (coordinatorPid: number | undefined, fleetPids: number[]): CpuMark => ({
  at: performance.now(),
  coordinator: coordinatorPid === undefined ? 0 : procCpuMs(coordinatorPid),
  fleet: fleetPids.reduce((s, pid) => s + procCpuMs(pid), 0),
  postgres: postgresCpu(),
  machine: machineCpuMs(),
})

/** Cores each part used between two marks (CPU ms ÷ wall ms); `other`: the rest of the machine. */
export const coresBetween = (a: CpuMark, b: CpuMark) => {
  const wall = b.at - a.at
  let pg = 0
  for (const [pid, ms] of b.postgres) pg += ms - (a.postgres.get(pid) ?? 0)
  const coordinator = (b.coordinator - a.coordinator) / wall
  const fleet = (b.fleet - a.fleet) / wall
  const postgres = pg / wall
  const machine = (b.machine - a.machine) / wall
  return {
    coordinator,
    fleet,
    postgres,
    machine,
    other: Math.max(0, machine - coordinator - fleet - postgres),
  }
}
