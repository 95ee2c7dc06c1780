/**
 * `slew serve` as ops run it: a real process; push, status and the controls
 * through the CLI; SIGTERM tells every stream to come back later, jittered,
 * and the process exits 0.
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { serveIn } from './helpers/cli.js'
import { waitFor } from './helpers/coordinator.js'

const bin = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')

const readSse = async (url: string, clientId: string, onGoaway: (ms: number) => void) => {
  const res = await fetch(`${url}/v1/stream?clientId=${clientId}`)
  const reader = res.body!.getReader()
  const dec = new TextDecoder()
  let buf = ''
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buf += dec.decode(value)
        const m = /event: goaway\ndata: (.+)\n/.exec(buf)
        if (m) onGoaway((JSON.parse(m[1]!) as { retryAfterMs: number }).retryAfterMs)
      }
    } catch {}
  })()
}

describe('slew serve', () => {
  let server: ChildProcess | undefined
  afterAll(() => server?.kill('SIGKILL'))

  it('serves the API to the CLI and shuts down gracefully on SIGTERM', {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slew-serve-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      'waves: { steps: [0.5, 1], bakeMs: 100 }\nstream: { drainMs: 4000 }\n',
    )
    const serving = await serveIn(dir)
    server = serving.server
    expect(serving.printed.out).toContain('slew.config.yaml')
    const url = serving.url
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [bin, ...args], {
        encoding: 'utf8',
        env: { ...process.env, SLEW_URL: url },
      })

    const pushed = cli('push', '--keys', 'sku:1,sku:2', '--reason', 'price fix')
    expect(pushed.status, pushed.stderr).toBe(0)
    // Ids are the epoch's, unique for good: chg-<epoch>-<n>.
    const first = /^(chg-[a-z0-9]+-1) (rolling|completed)/.exec(pushed.stdout)?.[1]
    expect(first, pushed.stdout).toBeDefined()
    const refused = cli('push', '--all')
    expect(refused.status).toBe(2)
    expect(refused.stderr).toMatch(/E_CONFIRM_REQUIRED/)
    const cfg = cli('push', '--set', 'feature.x=true', '--confirm', '--reason', 'flag on', '--json')
    const second = JSON.parse(cfg.stdout).id as string
    expect(second).toBe(first!.replace(/-1$/, '-2'))
    expect(cli('status').stdout).toContain(`${second}  config set feature.x`)
    expect(cli('status', first!, '--json').status).toBe(0)
    const rb = cli('rollback', second, '--reason', 'undo')
    expect(rb.status, rb.stderr).toBe(0)
    expect(cli('status', second).stdout).toMatch(/rolled_back/)
    expect(cli('pause', first!).status).toBe(1) // completed by now: illegal, a 409

    const goaways: number[] = []
    for (let i = 0; i < 40; i++) await readSse(url, `c${i}`, (ms) => goaways.push(ms))
    server.kill('SIGTERM')
    const code = await new Promise<number | null>((r) => server!.on('exit', r))
    expect(code).toBe(0)
    await waitFor('every goaway', () => goaways.length === 40, 5000)
    // Told to come back spread over the drain window, not all at once.
    expect(Math.max(...goaways)).toBeLessThanOrEqual(4000)
    expect(new Set(goaways).size).toBeGreaterThan(30)
    expect(Math.max(...goaways) - Math.min(...goaways)).toBeGreaterThan(1000)
  })
})
