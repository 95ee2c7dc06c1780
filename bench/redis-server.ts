/**
 * A private redis-server for the benchmarks: a free loopback port, its own
 * temp folder, no persistence (`--save '' --appendonly no`), killed by the
 * bench that started it. Never the machine's shared 6379, and nothing here
 * ever flushes a server it did not start (it flushes nothing at all: every
 * run uses keys of its own).
 */
import { readFileSync } from 'node:fs'
import { type RedisServer, startRedis } from '../test/helpers/redis.js'

/** The tests' private redis-server (one implementation of how to start one safely). */
export type PrivateRedis = RedisServer

export const startPrivateRedis = (): Promise<PrivateRedis> => startRedis()

const TICK_MS = 1000 / 100 // USER_HZ: 100 on Linux

/** CPU time (user + system) a process has used so far, ms, from /proc (10 ms resolution). */
export const procCpuMs = (pid: number): number => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * TICK_MS
}
