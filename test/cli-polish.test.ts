/**
 * The CLI as a new user meets it: --version, "did you mean" for a mistyped
 * command or flag, a refused push that says which flag is missing, serve's
 * hints for the port it really bound, plan on serve's config, and status's
 * table of waves. Where a coordinator runs in this process, the CLI runs
 * through the asynchronous execFile (spawnSync would block the loop that
 * has to answer it).
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { bin, slew, slewIn } from './helpers/cli.js'
import {
  clients,
  closeAfterAll,
  post,
  pushKeys,
  startCoordinator,
  testOrigin,
  waitFor,
} from './helpers/coordinator.js'

const root = join(import.meta.dirname, '..')
const run = promisify(execFile)
const tmp = () => mkdtempSync(join(tmpdir(), 'slew-polish-'))

/** The CLI with these arguments, without blocking this process: exit code, stdout, stderr. */
const slewAsync = async (...args: string[]) => {
  try {
    const r = await run(process.execPath, [bin, ...args], { encoding: 'utf8' })
    return { code: 0, out: r.stdout, err: r.stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout, err: e.stderr }
  }
}

describe('slew --version', () => {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    version: string
  }

  it('prints the package version, with --version and -v', () => {
    for (const flag of ['--version', '-v'])
      expect(slew(flag)).toEqual({ code: 0, out: `${version}\n`, err: '' })
  })

  it("prints the installed package's version from node_modules/.bin/slew", () => {
    // The layout npm install makes: the package's files under node_modules/slew-rate, its bin
    // linked from node_modules/.bin. A version of its own, so nothing can read the checkout's.
    const project = tmp()
    const pkg = join(project, 'node_modules', 'slew-rate')
    mkdirSync(pkg, { recursive: true })
    cpSync(join(root, 'dist'), join(pkg, 'dist'), { recursive: true })
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'slew-rate', version: '9.8.7-installed', type: 'module' }),
    )
    symlinkSync(join(root, 'node_modules'), join(pkg, 'node_modules'), 'dir')
    mkdirSync(join(project, 'node_modules', '.bin'))
    symlinkSync('../slew-rate/dist/cli/main.js', join(project, 'node_modules', '.bin', 'slew'))
    // Node runs a bin through its link: from the package's own dist/cli/main.js.
    const r = spawnSync(
      process.execPath,
      [join(project, 'node_modules', '.bin', 'slew'), '--version'],
      {
        cwd: project,
        encoding: 'utf8',
      },
    )
    expect(r.stderr).toBe('')
    expect(r.stdout).toBe('9.8.7-installed\n')
  })
})

describe('did you mean', () => {
  it('names the command a mistyped one is a slip of, and no other', () => {
    expect(slew('stauts')).toEqual({
      code: 2,
      out: '',
      err: 'slew: unknown command "stauts": did you mean "status"?\n',
    })
    expect(slew('simulte').err).toMatch(/did you mean "simulate"\?/)
    const far = slew('deploy')
    expect(far.code).toBe(2)
    expect(far.err).toMatch(/^slew: unknown command "deploy"\n\nslew — /)
    expect(far.err).not.toMatch(/did you mean/)
    expect(slew('--verison').err).toMatch(/unknown flag "--verison": did you mean "--version"\?/)
  })

  it('names the flag a mistyped one is a slip of, for every command', () => {
    const push = slew('push', '--resaon', 'x', '--keys', 'a')
    expect(push.code).toBe(2)
    expect(push.err).toBe(
      'slew push: E_UNKNOWN_FLAG: Unknown flag `--resaon`: did you mean `--reason`?\n',
    )
    expect(slew('plan', '--clinets', '5').err).toMatch(/did you mean `--clients`\?/)
    expect(slew('status', '--wacth').err).toMatch(/did you mean `--watch`\?/)
    expect(slew('push', '--dry', '--keys', 'a').err).toMatch(/did you mean `--dry-run`\?/)
    const far = slew('push', '--frobnicate')
    expect(far.code).toBe(2)
    expect(far.err).toBe('slew push: E_UNKNOWN_FLAG: Unknown flag `--frobnicate`\n')
  })
})

describe('slew push refused for want of --confirm or --reason', () => {
  const closers = closeAfterAll()

  it('says how far the change reaches and which of the two is missing', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator()
    closers.push(() => co.close())
    const fleet = clients<string>(3, { url, load: testOrigin(0).load })
    for (const c of fleet) closers.push(() => c.close())
    for (const c of fleet) await c.start()
    const why =
      "this change reaches 3 clients (100% of the fleet's cached entries, over confirmAbove 50%)"
    const neither = await slewAsync('push', '--all', '--url', url)
    expect(neither.code).toBe(2)
    expect(neither.err).toBe(
      `slew push: E_CONFIRM_REQUIRED: ${why}: add --confirm and --reason "why"\n`,
    )
    const confirmed = await slewAsync('push', '--all', '--confirm', '--url', url)
    expect(confirmed.err).toBe(`slew push: E_CONFIRM_REQUIRED: ${why}: add --reason "why"\n`)
    const reasoned = await slewAsync('push', '--all', '--reason', 'flush', '--url', url)
    expect(reasoned.err).toBe(`slew push: E_CONFIRM_REQUIRED: ${why}: add --confirm\n`)
    const dry = await slewAsync('push', '--all', '--confirm', '--dry-run', '--url', url)
    expect(dry.out).toMatch(/^dry run: nothing was sent; to send it, add --reason "why"\n/)
    expect(co.engine.list()).toHaveLength(0)
    const sent = await slewAsync('push', '--all', '--confirm', '--reason', 'flush', '--url', url)
    expect(sent.code, sent.err).toBe(0)
  })
})

describe('slew serve', () => {
  const servers: ChildProcess[] = []
  afterAll(() => {
    for (const s of servers) s.kill('SIGKILL')
  })

  /** `slew serve --port 0` in `dir` with `env`: what it printed once listening. */
  const serve = async (dir: string, env: Record<string, string> = {}) => {
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    servers.push(server)
    let out = ''
    server.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
    })
    server.stderr!.on('data', (b: Buffer) => {
      out += b.toString()
    })
    await waitFor('serve to print its hints', () => /dashboard:/.test(out), 20_000)
    const url = /listening on (http:\/\/\S+)/.exec(out)![1]!
    return { out, url }
  }

  it('hints with the port it bound, and no token with no auth', { timeout: 30_000 }, async () => {
    const { out, url } = await serve(tmp())
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(url).not.toBe('http://127.0.0.1:0')
    // The command as it runs here: the checkout's bin (from another folder: its full path).
    const self = `node ${realpathSync(bin)}`
    expect(out).toContain(
      `push a change:    ${self} push --url ${url} --keys sku:1 --reason "price fix"`,
    )
    expect(out).toContain(`watch it roll:    ${self} status --url ${url} --watch`)
    expect(out).not.toContain('--token')
  })

  it('with auth on, hints at the tokens that can push and read', { timeout: 30_000 }, async () => {
    const dir = tmp()
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        'auth:',
        '  tokens:',
        '    - { name: ops, scopes: [admin], secretEnv: OPS_TOKEN }',
        '    - { name: push-job, scopes: [push, read], secretEnv: PUSH_TOKEN }',
        'signing: { activeKid: k1, keys: { k1: { secretEnv: SIGNING_KEY } } }',
      ].join('\n'),
    )
    const { out, url } = await serve(dir, {
      OPS_TOKEN: 'ops-token-0123456789abcdef',
      PUSH_TOKEN: 'push-token-0123456789abcdef',
      SIGNING_KEY: 'signing-key-0123456789abcdef',
    })
    expect(out).toContain('auth is on')
    // The narrowest token that can: the push job's, named by its variable, never its secret.
    expect(out).toContain(`main.js push --url ${url} --token "$PUSH_TOKEN" --keys sku:1`)
    expect(out).toContain(`main.js status --url ${url} --token "$PUSH_TOKEN" --watch`)
    expect(out).not.toContain('push-token-0123456789abcdef')
  })
})

describe('slew plan reads the config slew serve reads', () => {
  const dir = tmp()
  writeFileSync(
    join(dir, 'slew.config.yaml'),
    [
      'shards: 10',
      'budgets: { invalidate: { ratePerSec: 250, burst: 50 } }',
      'waves: { steps: [0.5, 1], bakeMs: 1000 }',
      'leases: { ttlMs: 1000 }',
      'defaultEntries: 20',
      // A secret it needs no value of to plan.
      'auth: { tokens: [{ name: ops, scopes: [admin], secretEnv: UNSET_TOKEN }] }',
    ].join('\n'),
  )
  writeFileSync(
    join(dir, 'other.yaml'),
    'budgets: { invalidate: { ratePerSec: 2000, burst: 2000 } }\n',
  )
  const plan = (...args: string[]) =>
    slewIn({ cwd: dir, env: {} }, 'plan', '--clients', '100', ...args)

  it('slew.config.yaml in the working folder, as serve finds it', () => {
    const r = plan('--json')
    expect(r.code, r.err).toBe(0)
    const j = JSON.parse(r.out)
    expect(j.config).toBe(join(dir, 'slew.config.yaml'))
    expect(j.budget).toEqual({ ratePerSec: 250, burst: 50 })
    expect(j.waves.map((w: { fraction: number }) => w.fraction)).toEqual([0.5, 1])
    expect(j.waves.at(-1).shards).toEqual([5, 10])
    expect(j.totalCost).toBe(100 * 20) // defaultEntries per client
    expect(j.originBoundPerSec).toBe(50 + 250 * (1 + 1000 / 1000))
    const text = plan()
    expect(text.out).toMatch(
      /^invalidate of everything on 100 clients, 20 entries each; budget 250\/s, burst 50\n/,
    )
    expect(text.out).toContain(`settings: ${join(dir, 'slew.config.yaml')}`)
  })

  it('--config FILE instead, and a flag over either', () => {
    expect(JSON.parse(plan('--config', 'other.yaml', '--json').out).budget).toEqual({
      ratePerSec: 2000,
      burst: 2000,
    })
    expect(JSON.parse(plan('--budget', '400', '--json').out).budget).toEqual({
      ratePerSec: 400,
      burst: 400,
    })
  })

  it('refuses a config serve would refuse, with every problem (exit 2)', () => {
    writeFileSync(join(dir, 'bad.yaml'), 'waves: { steps: [0.5, 0.2] }\nshards: 0\n')
    const r = plan('--config', 'bad.yaml')
    expect(r.code).toBe(2)
    // The list `slew config check` prints (and serve refuses to start with).
    const check = slewIn({ cwd: dir, env: {} }, 'config', 'check', 'bad.yaml')
    expect(r.err).toMatch(/^slew plan: E_INVALID_OPTION: \d+ broken rules:\n/)
    expect(r.err.replace('slew plan:', 'slew config:')).toBe(check.err)
  })
})

describe('slew status ID', () => {
  const closers = closeAfterAll()

  it('shows a table of the waves: share, clients, delivered, acked, started, took, state', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [0.5, 1], bakeMs: 100 } })
    closers.push(() => co.close())
    const fleet = clients<string>(4, { url, load: testOrigin(0).load, heartbeatMs: 200 })
    for (const c of fleet) closers.push(() => c.close())
    for (const c of fleet) await c.start()
    const res = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['a'] },
      gate: false,
    })
    const { id } = (await res.json()) as { id: string }
    type Json = { state: string; waves: { queued: number; delivered: number; acked: number }[] }
    let json: Json | undefined
    await waitFor('the rollout to complete and be acked', async () => {
      json = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Json
      return json.state === 'completed' && json.waves.every((w) => w.acked === w.delivered)
    })
    const r = await slewAsync('status', id, '--url', url)
    expect(r.code, r.err).toBe(0)
    const lines = r.out.split('\n')
    expect(lines[1]).toMatch(/^ {2}wave +fleet +clients +delivered +acked +started +took +state$/)
    for (const [i, w] of json!.waves.entries()) {
      const cells = lines[2 + i]!.trim().split(/ {2,}/)
      expect(cells).toEqual([
        String(i),
        i === 0 ? '50%' : '100%',
        String(w.queued),
        String(w.delivered),
        String(w.acked),
        expect.stringMatching(/^\d\d:\d\d:\d\dZ$/),
        expect.stringMatching(/^\d+ ms$|^[\d.]+ s$/),
        w.queued === 0 ? 'no clients' : 'acked',
      ])
    }
  })

  it('a rewarm no client has reported on: waiting for clients to report, not 0/0 keys', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [1], bakeMs: 0 } })
    closers.push(() => co.close())
    const res = await pushKeys(url, ['k1', 'k2'])
    const { id } = (await res.json()) as { id: string }
    const r = await slewAsync('status', id, '--url', url)
    expect(r.code, r.err).toBe(0)
    expect(r.out.split('\n')[0]).toMatch(/ {2}waiting for clients to report$/)
    expect(r.out).not.toMatch(/keys 0\/0/)
  })
})
