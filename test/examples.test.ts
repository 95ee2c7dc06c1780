/** The examples run as written: an app server caching through the SDK, and a push job invalidating through the API. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient, devSigningKeys } from '../src/sdk/index.js'
import { startCoordinator, waitFor } from './helpers/coordinator.js'

const root = join(import.meta.dirname, '..')
const tsx = (file: string, args: string[], env: Record<string, string>) =>
  spawn(process.execPath, ['--import', 'tsx', join(root, 'examples', file), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })

/** A command line as a doc writes it (README, a file's header), run by the shell in the checkout. */
const sh = (line: string, env: Record<string, string>) =>
  spawn('sh', ['-c', line], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })

/** The README's "Try it" section: its `sh` blocks, as command lines without their comments. */
const tryItBlocks = () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = /^## Try it.*\n([\s\S]*?)(?=^## )/m.exec(readme)![1]!
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) =>
    m[1]!
      .split('\n')
      .filter(Boolean)
      .map((l) => l.replace(/\s+#.*$/, '')),
  )
}

/** A README section's first `sh` block, as command lines without their comments. */
const shBlockOf = (heading: string) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const section = new RegExp(`^## ${heading}\\n([\\s\\S]*?)(?=^## )`, 'm').exec(readme)![1]!
  return /^```sh\n([\s\S]*?)^```/m.exec(section)![1]!.split('\n').filter(Boolean)
}

/** The `slew` commands of the tour (the first block): the push and the watch. */
const tryItCommands = () => tryItBlocks()[0]!.filter((l) => l.startsWith('node dist/cli/main.js '))

const output = (child: ChildProcess) => {
  const lines: string[] = []
  child.stdout!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)))
  child.stderr!.on('data', (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean)))
  return lines
}

describe('examples', () => {
  const children: ChildProcess[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    for (const c of children) c.kill('SIGTERM')
    await stop()
  })

  it('app-server.ts caches through slew; push-job.ts invalidates it in waves', {
    timeout: 120_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [0.5, 1], bakeMs: 200 } })
    stop = () => co.close()
    const app = tsx('app-server.ts', [], {
      SLEW_URL: url,
      PORT: '0',
      SLEW_CLIENT_ID: 'example-app',
    })
    children.push(app)
    const appOut = output(app)
    await waitFor('the app server', () => appOut.some((l) => l.startsWith('app server on')), 20_000)
    const appUrl = /on (http:\/\/\S+),/.exec(
      appOut.find((l) => l.startsWith('app server on'))!,
    )![1]!

    const product = async () =>
      (await (await fetch(`${appUrl}/product/1`)).json()) as { price: number }
    expect((await product()).price).toBe(100)
    await fetch(`${appUrl}/origin/reprice`, { method: 'POST' })
    expect((await product()).price).toBe(100) // still cached

    // As a person following the README pushes: after the app server's first heartbeat has told
    // the coordinator it caches one entry, so product:1 is all of the fleet's cache (--confirm).
    await waitFor(
      "the app server's first heartbeat",
      async () => {
        const fleet = (await (await fetch(`${url}/v1/fleet`)).json()) as {
          clients: { entries?: number }[]
        }
        return fleet.clients[0]?.entries === 1
      },
      20_000,
      200,
    )
    const unconfirmed = tsx('push-job.ts', ['1'], { SLEW_URL: url, PUSH_RUN: 'test' })
    const unconfirmedOut = output(unconfirmed)
    expect(await new Promise<number | null>((r) => unconfirmed.on('exit', r))).toBe(1)
    expect(unconfirmedOut.join('\n')).toMatch(/E_CONFIRM_REQUIRED.*100\.0% of the fleet/)
    const job = tsx('push-job.ts', ['--confirm', '1'], { SLEW_URL: url, PUSH_RUN: 'test' })
    const jobOut = output(job)
    const code = await new Promise<number | null>((r) => job.on('exit', r))
    expect(code, jobOut.join('\n')).toBe(0)
    expect(jobOut.at(-1)).toMatch(/^completed /)
    await waitFor('the refetched price', async () => (await product()).price === 101, 10_000)
    expect(appOut.some((l) => /^change chg-[a-z0-9]+-1: invalidate/.test(l))).toBe(true)

    // rewarm-job.ts: the app server prefetches the pushed keys, under rewarm tokens.
    const rewarm = tsx('rewarm-job.ts', ['--confirm', 'product:7', 'product:8', 'product:9'], {
      SLEW_URL: url,
    })
    const rewarmOut = output(rewarm)
    expect(
      await new Promise<number | null>((r) => rewarm.on('exit', r)),
      rewarmOut.join('\n'),
    ).toBe(0)
    expect(rewarmOut.at(-1)).toMatch(/3\/3 keys/)
    // Already in the cache: fetched before we asked (a cold load would be stamped after).
    const asked = Date.now()
    const product8 = (await (await fetch(`${appUrl}/product/8`)).json()) as { fetchedAt: string }
    expect(Date.parse(product8.fetchedAt)).toBeLessThan(asked)

    // The README's "Try it" push and watch, as written: the next price change reaches the app server.
    const commands = tryItCommands()
    expect(commands.map((c) => c.split(' ')[2])).toEqual(['push', 'status'])
    await fetch(`${appUrl}/origin/reprice`, { method: 'POST' })
    for (const line of commands) {
      const cli = sh(line, { SLEW_URL: url })
      children.push(cli)
      const cliOut = output(cli)
      expect(await new Promise<number | null>((r) => cli.on('exit', r)), cliOut.join('\n')).toBe(0)
    }
    await waitFor('the refetched price', async () => (await product()).price === 102, 10_000)

    // The README's next block, as written: the push job, the rewarm job, the engine alone.
    const next = tryItBlocks()[1]!
    expect(next.map((l) => l.split(' ')[2])).toEqual([
      'examples/push-job.ts',
      'examples/rewarm-job.ts',
      'examples/engine-quickstart.ts',
    ])
    for (const line of next) {
      const run = sh(line, { SLEW_URL: url })
      children.push(run)
      const runOut = output(run)
      expect(await new Promise<number | null>((r) => run.on('exit', r)), runOut.join('\n')).toBe(0)
      expect(runOut.at(-1), line).toMatch(/^completed|units, done at/)
    }
  })

  it("the README's config ramp runs as written: the value moves from 200 towards 400", {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [1], bakeMs: 0 } })
    const client = createClient({
      url,
      clientId: 'ramp-app',
      signingKeys: devSigningKeys,
      load: async (k) => k,
    })
    try {
      await client.start()
      const lines = shBlockOf('Config ramps')
      expect(lines).toHaveLength(2)
      for (const line of lines) {
        const cli = sh(line, { SLEW_URL: url })
        const out = output(cli)
        expect(await new Promise<number | null>((r) => cli.on('exit', r)), out.join('\n')).toBe(0)
        if (line === lines[0])
          await waitFor('the rate of 200', () => client.config.get('send.ratePerSec') === 200)
      }
      const rate = () => client.config.get('send.ratePerSec') as number
      await waitFor('the ramp to start', () => typeof rate() === 'number' && rate() > 200)
      const a = rate()
      await new Promise((r) => setTimeout(r, 500))
      expect(rate()).toBeGreaterThan(a)
      expect(rate()).toBeLessThan(220)
      const stored = co.engine
        .list()
        .map((r) => r.change.values?.['send.ratePerSec'])
        .filter((v) => typeof v === 'object')
      expect(stored).toEqual([{ ramp: { from: 200, to: 400, perMinute: 0.1 } }])
    } finally {
      await client.close()
      await co.close()
    }
  })

  it("the README's guarded-rollout simulation runs as written and catches the change", {
    timeout: 60_000,
  }, async () => {
    const lines = shBlockOf('Guarded rollouts').map((l) => l.replace(/\s+#.*$/, ''))
    expect(lines).toEqual(['node dist/cli/main.js simulate --scenario regression --runs 5'])
    const run = sh(lines[0]!, {})
    const out = output(run)
    expect(await new Promise<number | null>((r) => run.on('exit', r)), out.join('\n')).toBe(0)
    expect(out.join('\n')).toMatch(/caught in the first wave\s+100\.0 %/)
  })

  it("the README's business watch runs as written: a point taken, the watch learning", {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({ watch: [{ metric: 'orders' }] })
    try {
      const lines = shBlockOf('The business watch')
      expect(lines).toHaveLength(2)
      const said: string[] = []
      for (const line of lines) {
        const cli = sh(line, { SLEW_URL: url })
        const out = output(cli)
        expect(await new Promise<number | null>((r) => cli.on('exit', r)), out.join('\n')).toBe(0)
        said.push(out.join('\n'))
      }
      expect(JSON.parse(said[0]!)).toEqual({ accepted: 1 })
      expect(JSON.parse(said[1]!)).toMatchObject({
        incidents: [],
        watching: [{ metric: 'orders', warmingUp: expect.stringMatching(/learning the series/) }],
      })
    } finally {
      await co.close()
    }
  })

  it("the README's OpenAPI line runs as written: the document's first bytes", async () => {
    const { co, url } = await startCoordinator()
    try {
      const [line, ...more] = shBlockOf('Operating it')
      expect(more).toEqual([])
      const cli = sh(line!, { SLEW_URL: url })
      const out = output(cli)
      expect(await new Promise<number | null>((r) => cli.on('exit', r)), out.join('\n')).toBe(0)
      expect(out.join('')).toBe('{"openapi":"3.1.0",')
    } finally {
      await co.close()
    }
  })

  it('slew.config.yaml is valid as its header says: with its secrets in the environment', () => {
    const header = readFileSync(join(root, 'examples', 'slew.config.yaml'), 'utf8')
    const validate = /^# Validate: (.+?) {2,}\(/m.exec(header)![1]!
    expect(validate).toBe('node dist/cli/main.js config check examples/slew.config.yaml')
    const check = (env: Record<string, string>) =>
      spawnSync('sh', ['-c', validate], {
        cwd: root,
        env: { PATH: process.env.PATH ?? '', ...env },
        encoding: 'utf8',
      })
    const secrets = {
      SLEW_PUSH_TOKEN: 'push-secret-0123456789',
      SLEW_APP_TOKEN: 'app-secret-0123456789',
      SLEW_ADMIN_TOKEN: 'admin-secret-0123456789',
      SLEW_SIGNING_KEY: 'signing-secret-0123456789',
    }
    const ok = check(secrets)
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/is valid\n.*3 token\(s\), signing kid k1/)
    const missing = check({ ...secrets, SLEW_SIGNING_KEY: '' })
    expect(missing.status).toBe(2)
    expect(missing.stderr).toMatch(/E_INVALID_OPTION.*signing.*SLEW_SIGNING_KEY/)
  })
})
