/**
 * docs/cli.md's examples run as shown. Each `$ node dist/cli/main.js …` line
 * of its code blocks is run in the checkout, in the order written: one that
 * needs no coordinator must print exactly what the doc shows under it; one
 * that talks to a coordinator runs against a real one (three app servers
 * connected) and must end as shown (an error shown: refused; otherwise exit
 * 0), printing every line the doc shows that holds no figure (ids, times and
 * counts differ from run to run), spacing aside. `serve` runs until stopped:
 * test/cli-polish.test.ts checks what it prints.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { clients, closeAfterAll, startCoordinator, testOrigin } from './helpers/coordinator.js'

const root = join(import.meta.dirname, '..')
const run = promisify(execFile)
const PREFIX = '$ node dist/cli/main.js '

interface Example {
  readonly line: string
  readonly args: string[]
  readonly shown: string[]
}

/** Shell words: spaces split, double quotes group (as the doc's examples write them). */
const words = (line: string): string[] =>
  [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!)

const examples = (markdown: string): Example[] => {
  const out: Example[] = []
  for (const [, block] of markdown.matchAll(/^```[^\n]*\n([\s\S]*?)^```/gm)) {
    let current: Example | undefined
    for (const line of block!.split('\n')) {
      if (line.startsWith('$ ')) {
        current = line.startsWith(PREFIX)
          ? { line, args: words(line.slice(PREFIX.length)), shown: [] }
          : undefined
        if (current) out.push(current)
      } else if (current) current.shown.push(line)
    }
  }
  for (const e of out) while (e.shown.at(-1) === '') e.shown.pop()
  return out
}

const remote = new Set(['push', 'status', 'pause', 'resume', 'abort', 'rollback'])
const isRemote = (args: readonly string[]) =>
  remote.has(args[0]!) || (args[0] === 'config' && args[1] !== 'check')
const refused = (shown: readonly string[]) =>
  shown.some((l) => /^slew( [\w-]+)?: (E_[A-Z_]+|unknown)/.test(l))
const squash = (s: string) => s.replace(/\s+/g, ' ').trim()

const slew = async (args: string[], env: Record<string, string> = {}) => {
  try {
    const r = await run(process.execPath, [join(root, 'dist', 'cli', 'main.js'), ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, SLEW_TOKEN: '', ...env },
    })
    return { code: 0, out: r.stdout + r.stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout + e.stderr }
  }
}

describe('docs/cli.md', () => {
  const all = examples(readFileSync(join(root, 'docs', 'cli.md'), 'utf8'))
  const closers = closeAfterAll()

  it('has examples of the commands this test runs', () => {
    const commands = all.map((e) => e.args.slice(0, e.args[0] === 'config' ? 2 : 1).join(' '))
    for (const c of ['plan', 'push', 'status', 'config get', 'config set', 'config history'])
      expect(commands).toContain(c)
  })

  it('every example runs as shown', { timeout: 120_000 }, async () => {
    const { co, url } = await startCoordinator()
    closers.push(() => co.close())
    const fleet = clients<string>(3, { url, load: testOrigin(0).load })
    for (const c of fleet) closers.push(() => c.close())
    for (const c of fleet) await c.start()
    for (const c of fleet) await c.get('sku:1')
    for (const e of all) {
      if (e.args[0] === 'serve') continue
      if (!isRemote(e.args)) {
        const r = await slew(e.args)
        expect(r.out.trimEnd(), e.line).toBe(e.shown.join('\n'))
        expect(r.code === 0, e.line).toBe(!refused(e.shown))
        continue
      }
      // A rollout id in the doc is the one the doc's last push made here.
      const last = co.engine.list().at(-1)?.id
      const args = e.args.map((a) => (/^chg-/.test(a) && last ? last : a))
      const r = await slew(args, { SLEW_URL: url })
      expect(r.code === 0, `${e.line}\n${r.out}`).toBe(!refused(e.shown))
      const printed = r.out.split('\n').map(squash)
      for (const line of e.shown.filter((l) => l !== '' && !/\d/.test(l)))
        expect(printed, `${e.line}: ${line}`).toContain(squash(line))
    }
  })
})
