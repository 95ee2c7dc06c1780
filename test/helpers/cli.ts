/** The `slew` command as a user runs it: the built bin in a real process, its exit code and output. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')

export const slew = (...args: string[]) => slewIn({}, ...args)

/** The same, in a working folder and with only the environment given (and PATH). */
export const slewIn = (at: { cwd?: string; env?: Record<string, string> }, ...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    ...(at.cwd !== undefined && { cwd: at.cwd }),
    ...(at.env !== undefined && { env: { PATH: process.env.PATH ?? '', ...at.env } }),
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
