/** The `slew` command as a user runs it: the built bin in a real process, its exit code and output. */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

export const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')

export const slew = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
