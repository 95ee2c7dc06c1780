/**
 * `npm start` as ops stop it: SIGTERM to the npm process (docker stop, a
 * process manager) or Ctrl-C to the terminal's process group. Either way the
 * coordinator tells its streams to come back later (`goaway`), exits 0, and
 * nothing of it is left running or listening. (npm forwards the signal only
 * to its direct child: if that were a shell, the coordinator would be
 * orphaned, still serving.)
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { bin } from './helpers/cli.js'
import { openStream, waitFor } from './helpers/coordinator.js'

const root = join(import.meta.dirname, '..')
const started: ChildProcess[] = []
afterAll(() => {
  // Whatever a failed run left behind: the whole group each test started.
  for (const p of started)
    if (p.pid !== undefined && groupAlive(p.pid)) process.kill(-p.pid, 'SIGKILL')
})

/** Is any process left in the process group `pgid`? */
const groupAlive = (pgid: number): boolean => {
  try {
    process.kill(-pgid, 0)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port })
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => resolve(false))
  })

/**
 * A command in its own process group (as a terminal runs it), on a free port;
 * by default `npm start`.
 */
const start = async (command = 'npm', args = ['start']) => {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('SLEW_')),
  )
  const npm = spawn(command, args, {
    cwd: root,
    env: { ...env, SLEW_PORT: '0', npm_config_update_notifier: 'false' },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  started.push(npm)
  let out = ''
  npm.stdout!.on('data', (b: Buffer) => {
    out += b.toString()
  })
  npm.stderr!.on('data', (b: Buffer) => {
    out += b.toString()
  })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  )
  await waitFor('npm start to listen', () => /listening on http:\/\/\S+/.test(out), 30_000)
  const url = /listening on (http:\/\/\S+)/.exec(out)![1]!
  return { npm, pgid: npm.pid!, url, port: Number(new URL(url).port), exited, log: () => out }
}

describe('npm start', () => {
  it.each([
    ['SIGTERM to the npm process', 'SIGTERM', 'npm'],
    ['Ctrl-C (SIGINT to the process group)', 'SIGINT', 'group'],
  ] as const)(
    '%s: goaway to every stream, exit 0, nothing left',
    {
      timeout: 60_000,
    },
    async (_name, signal, to) => {
      const { npm, pgid, url, port, exited, log } = await start()
      const stream = await openStream(url, 'x', { headers: { accept: 'text/event-stream' } })
      expect(stream.status).toBe(200)
      await waitFor('the stream to open', () => stream.events.length > 0, 5000)

      if (to === 'npm') npm.kill(signal)
      else process.kill(-pgid, signal)

      expect(await exited, log()).toEqual({ code: 0, signal: null })
      await waitFor('the goaway frame', () => stream.of('goaway').length === 1, 5000)
      expect(JSON.parse(stream.of('goaway')[0]!.data)).toMatchObject({
        type: 'goaway',
        reason: signal,
      })
      expect(log()).toContain(`slew: ${signal}: telling every stream to come back later`)
      // The coordinator went with npm: no process of the group is left, none listens.
      await waitFor('the process group to be gone', () => !groupAlive(pgid), 5000)
      expect(await accepts(port)).toBe(false)
      await stream.close()
    },
  )

  it('signals repeated during the shutdown (as npm forwards one) do not cut it short', {
    timeout: 60_000,
  }, async () => {
    const { npm: serve, url, exited, log } = await start(process.execPath, [bin, 'serve'])
    const stream = await openStream(url, 'x', { headers: { accept: 'text/event-stream' } })
    await waitFor('the stream to open', () => stream.events.length > 0, 5000)
    serve.kill('SIGTERM')
    // Signals sent at once merge into one: the repeats go once the first is being handled, and
    // keep coming till the process is gone, so that one lands while it ends.
    await waitFor('the shutdown to start', () => log().includes('shutting down'), 5000)
    const repeat = setInterval(() => serve.kill('SIGTERM'), 1)
    const end = await exited
    clearInterval(repeat)
    expect(end, log()).toEqual({ code: 0, signal: null })
    await waitFor('the goaway frame', () => stream.of('goaway').length === 1, 5000)
    await stream.close()
  })
})
