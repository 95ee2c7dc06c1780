/** The `slew` command as a user runs it: the built bin in a real process, its exit code and output. */
import { spawn, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { waitFor } from './coordinator.js'

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

/**
 * `slew serve --port 0` as ops start it, in `dir` (where its config file
 * is): the process, everything it has printed so far, and where it listens.
 */
export const serveIn = async (dir: string) => {
  const server = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const printed = { out: '' }
  const take = (b: Buffer) => {
    printed.out += b.toString()
  }
  server.stdout!.on('data', take)
  server.stderr!.on('data', take)
  await waitFor('serve to listen', () => /listening on http/.test(printed.out), 20_000)
  return { server, printed, url: /listening on (http:\/\/\S+)/.exec(printed.out)![1]! }
}
